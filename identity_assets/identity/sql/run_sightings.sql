-- The sightings of the affected identifiers (the touched ones among them), read once from the
-- whole history: their statistics, the graph's edges and the events to place again all come
-- from here, so a run scans identifier_sightings for them once.
create or replace temp table run_sightings as
select s.event_id, s.day, s.occurred_at, s.identifier_type, s.identifier_value, s.problem
from identifier_sightings as s
semi join affected_identifiers as a using (identifier_type, identifier_value)
