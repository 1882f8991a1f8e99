-- The identities whose customer_metrics rows a run makes again from their events: those whose
-- journal changed (purchase_identities), those with an event the last run's as_of ($since)
-- left out and $as_of takes in, and those whose row is missing or must go (first seen before
-- $as_of with no row; a row whose identity is gone or now first seen later).
create or replace temp table metric_identities as
select identity_id from purchase_identities
union
select identity_id
from identity_journal
where occurred_at >= $since and occurred_at < $as_of
union
select i.identity_id
from identities as i
anti join customer_metrics as c using (identity_id)
where i.first_seen < $as_of
union
select c.identity_id
from customer_metrics as c
anti join (select identity_id from identities where first_seen < $as_of) as i using (identity_id);
