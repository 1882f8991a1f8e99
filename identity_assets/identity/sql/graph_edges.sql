-- Edges between linked identifiers seen in the same event: the pairs (identifier_pairs) both of
-- whose identifiers are nodes of this run's graph, in both directions and with their types, so
-- the components and the alias look-up (alias_candidates.sql) read the pairs once. Blocked
-- identifiers are not nodes, so they link nothing.
create or replace temp table graph_edges as
select
    a.identifier_key as a,
    b.identifier_key as b,
    a.identifier_type as a_type,
    b.identifier_type as b_type
from identifier_pairs as p
inner join graph_nodes as a using (identifier_type, identifier_value)
inner join graph_nodes as b
    on b.identifier_type = p.other_type and b.identifier_value = p.other_value
