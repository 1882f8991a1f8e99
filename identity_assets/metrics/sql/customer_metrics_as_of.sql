-- Every row of customer_metrics taken to $as_of without reading an event: recency, tenure and
-- customer age by arithmetic from the stored first and last purchase and the identity's
-- first_seen, in place. Only these columns are written: at 10M events, with the RFM ranks
-- (customer_metrics_rfm.sql) 0.46-0.84 s, against 1.25-1.58 s for rewriting every column of
-- every row. An update is that cheap only because the warehouse's checkpoints merge no row
-- groups (decision 0035). Every row has its identity: metric_identities removed the others.
update customer_metrics as m
set
    recency_days = (epoch($as_of) - epoch(m.last_purchase_at)) / 86400,
    tenure_days = (epoch($as_of) - epoch(i.first_seen)) / 86400,
    customer_age_days = date_diff('day', m.first_purchase_at::date, $as_of::date),
    as_of = $as_of
from identities as i
where i.identity_id = m.identity_id;
