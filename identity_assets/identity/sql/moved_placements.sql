-- Events placed by an identifier that moved to another identity: the same identifier still
-- places them (which one places an event depends on the linked identifiers and the priority,
-- not on identities), so only their identity changes. They are found by the placing
-- identifier's key, one integer column of event_placements, not by their sightings. Events
-- placed again this run already hold their new identity.
create or replace temp table moved_placements as
with moved_keys as (
    select m.identifier_key, m.identity_id
    from identity_map as m
    inner join moved_identifiers as v using (identifier_type, identifier_value)
    where v.old_id is not null
)

select
    e.rowid as row_id,
    e.event_id,
    e.day,
    e.identity_id as old_id,
    k.identity_id as new_id,
    e.identifier_key
from event_placements as e
inner join moved_keys as k using (identifier_key)
where e.identity_id <> k.identity_id;

-- deleted and inserted again rather than updated: a checkpoint rewrites every row group an
-- update touched, and these rows lie all over the history
delete from event_placements
where rowid in (select row_id from moved_placements);

insert into event_placements by name
select event_id, day, new_id as identity_id, identifier_key
from moved_placements;
