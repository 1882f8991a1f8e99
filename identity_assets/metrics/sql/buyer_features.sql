-- Per buyer at customer_metrics' as_of ($as_of): the columns of value_features.sql, read from
-- the summaries customer_metrics stores, with only the last $horizon days' purchases read for
-- the recent spend: a day's predictions read no buyer's whole history. Nothing is spent after
-- $as_of yet (`actual` 0). Both queries give the same features (a test holds them equal:
-- identity_assets_tests/metrics/test_selection.py).
with recent as (
    select
        p.identity_id,
        sum(p.amount::decimal(38, 2)) filter (where p.currency = m.currency) as spend,
        count(distinct p.occurred_at::date) as days
    from purchases as p
    inner join customer_metrics as m using (identity_id)
    where p.problem is null
        and p.occurred_at >= $as_of::date - $horizon
        and p.occurred_at < $as_of
    group by p.identity_id
)

select
    m.identity_id,
    m.currency,
    m.repeat_purchases::double as x,
    m.purchase_span_days as t_x,
    m.customer_age_days as age,
    coalesce(m.repeat_order_value, 0) as m,
    m.currency_purchases::double as purchases,
    m.total_spend as spend,
    m.total_spend / m.currency_purchases as avg_order_value,
    coalesce(r.spend, 0)::double as recent_spend,
    coalesce(r.days, 0)::double as recent_days,
    0::double as actual,
    date_diff('day', date '0001-01-01', m.first_purchase_at::date) + 1 as first_day,
    coalesce(date_diff('day', date '0001-01-01', m.second_purchase_day) + 1, -1) as second_day
from customer_metrics as m
left join recent as r using (identity_id)
where m.total_purchases > 0
order by m.identity_id
