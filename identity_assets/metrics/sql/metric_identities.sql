-- The identities whose customer_metrics rows a run makes again from their events: those whose
-- journal changed (purchase_identities), those with an event the last run's as_of ($since)
-- left out and $as_of takes in, and those whose row is missing or must go (first seen before
-- $as_of with no row; a row whose identity is gone or now first seen later). The last two are
-- one full join of identities and customer_metrics: at 10M events 0.07 s, against 0.14 s as
-- two anti joins, each building a hash table of every identity.
create or replace temp table metric_identities as
select identity_id from purchase_identities
union
select identity_id
from identity_journal
where occurred_at >= $since and occurred_at < $as_of
union
select coalesce(i.identity_id, c.identity_id)
from (select identity_id from identities where first_seen < $as_of) as i
full join (select identity_id from customer_metrics) as c using (identity_id)
where i.identity_id is null or c.identity_id is null;
