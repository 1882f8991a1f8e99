-- The sightings of the graph's nodes: the edges, the alias conflicts and the events of
-- clusters over a limit all come from here. Blocked identifiers are not nodes, so they link
-- nothing.
create or replace temp table node_sightings as
select s.event_id, s.day, s.occurred_at, n.identifier_key
from run_sightings as s
inner join graph_nodes as n using (identifier_type, identifier_value)
