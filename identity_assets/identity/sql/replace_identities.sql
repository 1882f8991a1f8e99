-- Replace the summary rows of the identities the run re-resolved. An identity's events are
-- the events placed with it (event_placements), so an event of a cluster a limit split counts
-- once, for the identity it joined. The count is the stored one, less the placements this run
-- took away (old_placements, and moved_placements' old identities), plus those it made
-- (new_placements, and moved_placements' new identities): event_placements is not read again.
create or replace temp table identity_event_counts as
select identity_id, sum(events)::bigint as event_count
from (
    select identity_id, event_count as events from identities
    union all
    select identity_id, -1 from old_placements
    union all
    select identity_id, 1 from new_placements
    union all
    select old_id, -1 from moved_placements
    union all
    select new_id, 1 from moved_placements
)
where identity_id in (select identity_id from new_identity_map)
group by identity_id
having sum(events) > 0;

delete from identities
where identity_id in (select identity_id from replaced_identities);

insert into identities by name
select
    n.identity_id,
    min(i.first_seen) as first_seen,
    max(i.last_seen) as last_seen,
    count(*) as identifier_count,
    any_value(e.event_count) as event_count,
    any_value(n.anchor_type) as anchor_type,
    any_value(n.anchor_value) as anchor_value
from new_identity_map as n
inner join identifiers as i using (identifier_key)
inner join identity_event_counts as e using (identity_id)
group by n.identity_id;
