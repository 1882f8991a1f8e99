-- Every row of customer_metrics taken to $as_of without reading an event: recency, tenure and
-- customer age by arithmetic from the stored first and last purchase and the identity's
-- first_seen, and the RFM quintiles ranked across everyone again. Equal values are split
-- between quintiles by identity_id, so the same data gives the same ranks whatever order its
-- rows are in.
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
)

select
    * replace (
        case when total_purchases > 0
            then ntile(5) over (
                partition by total_purchases > 0 order by recency_days desc, identity_id
            ) end as rfm_recency,
        case when total_purchases > 0
            then ntile(5) over (
                partition by total_purchases > 0 order by total_purchases, identity_id
            ) end as rfm_frequency,
        case when total_purchases > 0
            then ntile(5) over (
                partition by total_purchases > 0 order by total_spend, identity_id
            ) end as rfm_monetary
    )
from aged
