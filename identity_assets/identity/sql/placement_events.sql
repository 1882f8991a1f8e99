-- The events to place again outside the changed days: those carrying an identifier that moved
-- (its identity changed, or it started or stopped linking). The changed days' events (every
-- day's, when the priority changed: placement_days) are placed again whole.
create or replace temp table placement_events as
select distinct s.event_id, s.day
from identifier_sightings as s
inner join moved_identifiers as m using (identifier_type, identifier_value)
where s.day not in (select day from placement_days)
