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
    total_purchases          bigint not null,
    total_spend              double not null,    -- currencies never add up
    avg_order_value          double not null,
    first_purchase_at        timestamp,
    last_purchase_at         timestamp,
    purchase_frequency       double not null,
    engagement_events        bigint not null,
    engagement_score         double not null,
    currency                 varchar,
    spend_by_currency        json,
    bad_purchase_events      bigint not null,
    recency_days             double,
    tenure_days              double not null,
    repeat_purchases         bigint not null,
    purchase_span_days       double not null,
    customer_age_days        double,
    repeat_order_value       double,
    rfm_recency              integer,
    rfm_frequency            integer,
    rfm_monetary             integer,
    as_of                    timestamp not null,
    currency_purchases       bigint,
    second_purchase_day      date
);

-- The rest of the summary the value model predicts from, so a day's predictions read no
-- purchase (a warehouse from before them makes every row again: metrics/value.py).
alter table customer_metrics add column if not exists currency_purchases bigint;
alter table customer_metrics add column if not exists second_purchase_day date;

-- Column comments are the descriptions the assets declare (identity_assets/metadata.py).
comment on column customer_metrics.total_purchases is 'good purchases, every currency';
comment on column customer_metrics.total_spend is 'in `currency` only';
comment on column customer_metrics.avg_order_value is 'in `currency`';
comment on column customer_metrics.purchase_frequency is 'purchases per active day between first and last (the seed''s)';
comment on column customer_metrics.engagement_events is 'page views, product views, adds to cart';
comment on column customer_metrics.engagement_score is '0.3 * engagement_events + 0.7 * purchases (the seed''s)';
comment on column customer_metrics.currency is 'the identity''s main currency: most purchases';
comment on column customer_metrics.spend_by_currency is 'every currency apart: {"USD": 120.5, "EUR": 30}';
comment on column customer_metrics.bad_purchase_events is 'purchases whose value could not be used';
comment on column customer_metrics.recency_days is 'days since the last purchase, at as_of';
comment on column customer_metrics.tenure_days is 'days since the identity was first seen';
comment on column customer_metrics.repeat_purchases is 'purchase days after the first (BG/NBD x)';
comment on column customer_metrics.purchase_span_days is 'first to last purchase day (BG/NBD t_x)';
comment on column customer_metrics.customer_age_days is 'first purchase day to as_of (BG/NBD T)';
comment on column customer_metrics.repeat_order_value is 'mean spend of the repeat purchase days (Gamma-Gamma m)';
comment on column customer_metrics.rfm_recency is 'quintile score 1..5, 5 most recent; null: no purchase';
comment on column customer_metrics.rfm_frequency is 'quintile score 1..5, 5 most frequent; null: no purchase';
comment on column customer_metrics.rfm_monetary is 'quintile score 1..5, 5 highest spend; null: no purchase';
comment on column customer_metrics.as_of is 'midnight after the last event';
comment on column customer_metrics.currency_purchases is 'good purchases in `currency`';
comment on column customer_metrics.second_purchase_day is 'the first purchase day after the first: when the buyer first repeated';

create table if not exists customer_value (
    identity_id          varchar not null,
    predicted_90d_value  double not null,
    method               varchar not null,
    predicted_purchases  double,
    predicted_order_value double,
    baseline_90d_value   double not null,
    currency             varchar,
    as_of                timestamp not null
);

comment on column customer_value.predicted_90d_value is 'in the identity''s main currency';
comment on column customer_value.method is 'the chosen model (bg_nbd_gamma_gamma, pareto_nbd_gamma_gamma, gradient_boosting, recent_spend), what its backtest said, or baseline: why none';
comment on column customer_value.predicted_purchases is 'BG/NBD or Pareto/NBD expected purchases in 90 days';
comment on column customer_value.predicted_order_value is 'expected value of one purchase';
comment on column customer_value.baseline_90d_value is 'the seed''s formula, kept for comparison';
comment on column customer_value.currency is 'customer_metrics.currency';
comment on column customer_value.as_of is 'customer_metrics.as_of';

-- The journal day each purchase came from: purchases follow the journal day by day.
alter table purchases add column if not exists day date;

-- Bookkeeping of warehouses built before the change protocol (decision 0006).
drop table if exists purchase_days;
