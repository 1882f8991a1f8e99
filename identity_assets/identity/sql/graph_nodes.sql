-- The linked affected identifiers: the nodes of the graph to recompute.
create or replace temp table graph_nodes as
select i.identifier_key, i.identifier_type, i.identifier_value
from identifiers as i
inner join affected_identifiers as a using (identifier_type, identifier_value)
where i.status = 'linked'
