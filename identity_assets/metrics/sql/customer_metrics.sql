-- One row per identity first seen before $as_of, for the identities in metric_identities (every
-- identity: $all_identities): the seed's metrics (purchases, spend, average order value, first
-- and last purchase, purchases per active day, engagement and its score with the seed's weights
-- 0.3 and 0.7), plus the BG/NBD and Gamma-Gamma summary by purchase day (repeat days x, span
-- t_x, mean repeat spend m; the main currency's purchases and the second purchase day), from
-- which a day's predictions are made without reading a purchase (buyer_features.sql). Spend is
-- summed in the identity's main currency only (most purchases, then most spend);
-- `spend_by_currency` shows every currency apart. Amounts (whole cents) are added up as
-- decimals, exactly, so the same data gives the same figures whatever order its rows are in.
-- What depends on the calendar alone (recency, tenure, customer age, as_of) and the RFM
-- quintiles, which rank everyone, are left for customer_metrics_as_of.sql and
-- customer_metrics_rfm.sql, which take every row to $as_of in the same transaction.
insert into customer_metrics by name
with people as (
    select identity_id, first_seen
    from identities
    where first_seen < $as_of
        and ($all_identities or identity_id in (select identity_id from metric_identities))
),

their_purchases as (
    select identity_id, occurred_at, amount, currency, problem
    from purchases
    where occurred_at < $as_of and identity_id in (select identity_id from people)
),

good as (
    select identity_id, occurred_at, amount::decimal(38, 2) as amount, currency
    from their_purchases
    where problem is null
),

bad as (
    select identity_id, count(*) as bad_purchase_events
    from their_purchases
    where problem is not null
    group by identity_id
),

by_currency as (
    select identity_id, currency, count(*) as purchases, sum(amount) as spend
    from good
    group by identity_id, currency
),

main_currency as (
    select identity_id, currency
    from by_currency
    qualify row_number() over (
        partition by identity_id order by purchases desc, spend desc, currency
    ) = 1
),

currencies as (
    select
        identity_id,
        to_json(map_from_entries(list_sort(list({'key': currency, 'value': round(spend, 2)}))))
            as spend_by_currency
    from by_currency
    group by identity_id
),

bought as (
    select
        g.identity_id,
        count(*) as total_purchases,
        count(*) filter (where g.currency = m.currency) as currency_purchases,
        min(g.occurred_at) as first_purchase_at,
        max(g.occurred_at) as last_purchase_at,
        sum(g.amount) filter (where g.currency = m.currency) as total_spend,
        avg(g.amount) filter (where g.currency = m.currency) as avg_order_value,
        any_value(m.currency) as currency
    from good as g
    inner join main_currency as m using (identity_id)
    group by g.identity_id
),

purchase_days as (
    select
        g.identity_id,
        g.occurred_at::date as day,
        sum(g.amount) filter (where g.currency = m.currency) as spend
    from good as g
    inner join main_currency as m using (identity_id)
    group by g.identity_id, g.occurred_at::date
),

summary as (
    select
        identity_id,
        count(*) - 1 as repeat_purchases,
        date_diff('day', min(day), max(day)) as purchase_span_days,
        avg(spend) filter (where day > first_day) as repeat_order_value,
        min(day) filter (where day > first_day) as second_purchase_day
    from (
        select *, min(day) over (partition by identity_id) as first_day from purchase_days
    )
    group by identity_id
),

their_events as (
    select identity_id, kind, event_name
    from identity_journal
    where occurred_at < $as_of and identity_id in (select identity_id from people)
),

engagement_names as (
    select distinct event_name
    from their_events
    where event_name is not null
),

engaging as (
    select event_name
    from engagement_names
    where snake_name(event_name) in (select event_name from engagement_events)
),

engagement as (
    select identity_id, count(*) as engagement_events
    from their_events
    where kind in ('page', 'screen') or event_name in (select event_name from engaging)
    group by identity_id
)

select
    p.identity_id,
    coalesce(b.total_purchases, 0) as total_purchases,
    coalesce(b.total_spend, 0) as total_spend,
    coalesce(b.avg_order_value, 0) as avg_order_value,
    b.first_purchase_at,
    b.last_purchase_at,
    coalesce(
        b.total_purchases
        / nullif(floor((epoch(b.last_purchase_at) - epoch(b.first_purchase_at)) / 86400), 0),
        0
    ) as purchase_frequency,
    coalesce(e.engagement_events, 0) as engagement_events,
    coalesce(e.engagement_events, 0) * 0.3 + coalesce(b.total_purchases, 0) * 0.7
        as engagement_score,
    b.currency,
    c.spend_by_currency,
    coalesce(x.bad_purchase_events, 0) as bad_purchase_events,
    coalesce(s.repeat_purchases, 0) as repeat_purchases,
    coalesce(s.purchase_span_days, 0) as purchase_span_days,
    s.repeat_order_value,
    coalesce(b.currency_purchases, 0) as currency_purchases,
    s.second_purchase_day,
    0 as tenure_days,  -- with as_of, set by customer_metrics_as_of.sql
    $as_of as as_of
from people as p
left join bought as b using (identity_id)
left join currencies as c using (identity_id)
left join bad as x using (identity_id)
left join summary as s using (identity_id)
left join engagement as e using (identity_id);
