-- Swap the placements of `placement_days` and `placement_events` for the new ones
-- (`new_placements`, place_events.sql), keeping in `placement_changes` the identities whose
-- placements changed outside the changed days.
create or replace temp table old_placements as
select rowid as row_id, *
from event_placements
where day in (select day from placement_days)
union all
select e.rowid, e.*
from event_placements as e
semi join placement_events as p using (event_id, day);

create or replace temp table placement_changes as
with differing as (
    select o.identity_id as old_id, n.identity_id as new_id
    from (select * from old_placements where day not in (select day from changed_days)) as o
    full outer join (
        select * from new_placements where day not in (select day from changed_days)
    ) as n using (event_id, day)
    where o.identity_id is distinct from n.identity_id
        or o.identifier_key is distinct from n.identifier_key
)

select old_id as identity_id from differing
union
select new_id from differing;

-- by row id: the rows were found once, above
delete from event_placements
where rowid in (select row_id from old_placements);

insert into event_placements by name
select * from new_placements;
