-- The sightings of the graph nodes in `wanted_nodes`: alias candidates, or the nodes of clusters
-- over a limit, the few whose events and not only their pairs decide their identities.
create or replace temp table node_sightings as
select s.event_id, s.day, s.occurred_at, n.identifier_key
from identifier_sightings as s
inner join graph_nodes as n using (identifier_type, identifier_value)
where n.identifier_key in (select identifier_key from wanted_nodes)
