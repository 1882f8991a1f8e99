-- Every row of customer_metrics taken to $as_of without reading an event: recency, tenure and
-- customer age by arithmetic from the stored first and last purchase and the identity's
-- first_seen, and the RFM quintiles ranked across everyone again. Only buyers are ranked (the
-- others have no quintile): sorting them alone took 0.57 s at 10M events, against 1.14-1.36 s
-- with every identity in the sort. Equal values are split between quintiles by identity_id,
-- so the same data gives the same ranks whatever order its rows are in.
with aged as (
    select
        m.* replace (
            (epoch($as_of) - epoch(m.last_purchase_at)) / 86400 as recency_days,
            (epoch($as_of) - epoch(i.first_seen)) / 86400 as tenure_days,
            date_diff('day', m.first_purchase_at::date, $as_of::date) as customer_age_days,
            $as_of as as_of
        )
    from customer_metrics as m
    inner join identities as i using (identity_id)
),

ranked as (
    select
        identity_id,
        ntile(5) over (order by recency_days desc, identity_id) as rfm_recency,
        ntile(5) over (order by total_purchases, identity_id) as rfm_frequency,
        ntile(5) over (order by total_spend, identity_id) as rfm_monetary
    from aged
    where total_purchases > 0
)

select
    a.* replace (
        r.rfm_recency as rfm_recency,
        r.rfm_frequency as rfm_frequency,
        r.rfm_monetary as rfm_monetary
    )
from aged as a
left join ranked as r using (identity_id)
