-- Tables of the metrics stage. customer_metrics and customer_value are the output contract;
-- purchases keeps every purchase event with its amount, currency, or what was wrong with it.
create table if not exists purchases (
    identity_id varchar not null,
    event_id    varchar not null,
    occurred_at timestamp not null,
    rule        varchar not null,   -- the purchase rule that matched
    raw_value   varchar,            -- as received, for the ones with a problem
    amount      double,             -- value (times quantity); null when it has a problem
    currency    varchar not null,
    problem     varchar             -- missing_value, non_numeric_value, negative_value,
                                    -- non_numeric_quantity, value_out_of_range; null for a
                                    -- good purchase
);

create table if not exists customer_metrics (
    identity_id              varchar not null,
    total_purchases          bigint not null,    -- good purchases, every currency
    total_spend              double not null,    -- in `currency` only: currencies never add up
    avg_order_value          double not null,
    first_purchase_at        timestamp,
    last_purchase_at         timestamp,
    purchase_frequency       double not null,    -- purchases per active day (the seed's)
    engagement_events        bigint not null,
    engagement_score         double not null,    -- 0.3 * engagement + 0.7 * purchases (seed)
    currency                 varchar,            -- the identity's main currency
    spend_by_currency        json,               -- {"USD": 120.5, "EUR": 30}
    bad_purchase_events      bigint not null,    -- purchases whose value could not be used
    recency_days             double,             -- days since the last purchase, at as_of
    tenure_days              double not null,    -- days since the identity was first seen
    repeat_purchases         bigint not null,    -- purchase days after the first (BG/NBD x)
    purchase_span_days       double not null,    -- first to last purchase day (BG/NBD t_x)
    customer_age_days        double,             -- first purchase to as_of (BG/NBD T)
    repeat_order_value       double,             -- mean spend of the repeat days (Gamma-Gamma m)
    rfm_recency              integer,            -- quintile scores 1..5, 5 best; null: no purchase
    rfm_frequency            integer,
    rfm_monetary             integer,
    as_of                    timestamp not null
);

create table if not exists customer_value (
    identity_id          varchar not null,
    predicted_90d_value  double not null,
    method               varchar not null,
    predicted_purchases  double,
    predicted_order_value double,
    baseline_90d_value   double not null,    -- the seed's formula, kept for comparison
    currency             varchar,
    as_of                timestamp not null
);

-- The journal day each purchase came from: purchases follow the journal day by day.
alter table purchases add column if not exists day date;

-- Which version of each journal day (journal_days.resolved_at) purchases were read from, and
-- under which purchase rules: a day whose journal changed, or any day after a rule change, is
-- read again; other days keep their purchases.
create table if not exists purchase_days (
    day         date not null,
    resolved_at timestamp,
    rules       varchar not null
);
