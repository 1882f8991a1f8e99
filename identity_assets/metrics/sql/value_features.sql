-- Per buyer as of $as_of (a good purchase before it): the RFM and BTYD features the value
-- models read, and what the buyer spent in [$as_of, $until) (the outcome a backtest scores and
-- the supervised model learns). Amounts are in the buyer's main currency as of $as_of (most
-- purchases, then most spend, as customer_metrics), added up as exact decimals; purchase days
-- count every currency (BG/NBD x, t_x, T as customer_metrics has them). Its first and second
-- purchase days (second: -1 for one day only) come as numbers as Python's date.toordinal counts
-- days: when a model may be fitted follows from them (metrics/cadence.py). Ordered by identity.
with good as (
    select identity_id, occurred_at, occurred_at::date as day, amount::decimal(38, 2) as amount,
        currency
    from purchases
    where problem is null and occurred_at < $until
),

before as (
    select * from good where occurred_at < $as_of
),

main_currency as (
    select identity_id, currency
    from before
    group by identity_id, currency
    qualify row_number() over (
        partition by identity_id order by count(*) desc, sum(amount) desc, currency
    ) = 1
),

days as (
    select
        b.identity_id,
        b.day,
        sum(b.amount) filter (where b.currency = m.currency) as spend,
        count(*) filter (where b.currency = m.currency) as purchases
    from before as b
    inner join main_currency as m using (identity_id)
    group by b.identity_id, b.day
),

summary as (
    select
        identity_id,
        count(*) - 1 as x,
        date_diff('day', min(day), max(day)) as t_x,
        date_diff('day', min(day), $as_of::date) as age,
        coalesce(avg(spend) filter (where day > first_day), 0) as m,
        sum(purchases) as purchases,
        coalesce(sum(spend), 0) as spend,
        coalesce(sum(spend) filter (where day >= $as_of::date - $horizon), 0) as recent_spend,
        count(*) filter (where day >= $as_of::date - $horizon) as recent_days,
        min(day) as first_purchase_day,
        min(day) filter (where day > first_day) as second_purchase_day
    from (select *, min(day) over (partition by identity_id) as first_day from days)
    group by identity_id
),

outcome as (
    select g.identity_id, sum(g.amount) as actual
    from good as g
    inner join main_currency as m using (identity_id, currency)
    where g.occurred_at >= $as_of
    group by g.identity_id
)

select
    s.identity_id,
    m.currency,
    s.x::double as x,
    s.t_x::double as t_x,
    s.age::double as age,
    s.m::double as m,
    s.purchases::double as purchases,
    s.spend::double as spend,
    (s.spend / s.purchases)::double as avg_order_value,
    s.recent_spend::double as recent_spend,
    s.recent_days::double as recent_days,
    coalesce(o.actual, 0)::double as actual,
    date_diff('day', date '0001-01-01', s.first_purchase_day) + 1 as first_day,
    coalesce(date_diff('day', date '0001-01-01', s.second_purchase_day) + 1, -1) as second_day
from summary as s
inner join main_currency as m using (identity_id)
left join outcome as o using (identity_id)
order by s.identity_id
