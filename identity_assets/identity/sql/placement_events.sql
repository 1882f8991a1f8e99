-- The events to place again outside the changed days: those carrying an identifier that moved
-- (its identity changed, or it started or stopped linking). The changed days' events (every
-- day's, when the priority changed: placement_days) are placed again whole. Only the other
-- days' sightings are read, so a build that places every day reads none.
create or replace temp table placement_events as
with other_days as (
    select distinct day from identifier_sightings
    except
    select day from placement_days
)

select distinct s.event_id, s.day
from run_sightings as s
semi join other_days as d using (day)
semi join moved_identifiers as m using (identifier_type, identifier_value)
