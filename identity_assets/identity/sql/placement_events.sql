-- The events to place again: those of the changed days (as they are now and as they were) and
-- those carrying an identifier that moved; every event when the priority changed ($all_events).
create or replace temp table placement_events as
select event_id, day
from identifier_sightings
where $all_events or day in (select day from changed_days)
union
select event_id, day
from event_placements
where day in (select day from changed_days)
union
select s.event_id, s.day
from identifier_sightings as s
inner join moved_identifiers as m using (identifier_type, identifier_value);
