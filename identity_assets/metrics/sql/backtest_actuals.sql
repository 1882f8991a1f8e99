-- Each identity that bought before the cutoff: both methods' predictions and what it actually
-- spent (in its main currency) in the holdout that follows the cutoff.
select
    m.identity_id,
    v.predicted_90d_value as model,
    v.baseline_90d_value as baseline,
    coalesce(sum(p.amount), 0) as actual
from customer_metrics as m
inner join customer_value as v using (identity_id)
left join purchases as p
    on p.identity_id = m.identity_id
    and p.problem is null
    and p.currency = m.currency
    and p.occurred_at >= $as_of
    and p.occurred_at < $until
where m.total_purchases > 0
group by m.identity_id, v.predicted_90d_value, v.baseline_90d_value
order by m.identity_id
