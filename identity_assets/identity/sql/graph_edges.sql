-- Edges between linked identifiers seen in the same event: the pairs (identifier_pairs) both of
-- whose identifiers are nodes of this run's graph, each pair once. Blocked identifiers are not
-- nodes, so they link nothing.
select a.identifier_key as a, b.identifier_key as b
from identifier_pairs as p
inner join graph_nodes as a using (identifier_type, identifier_value)
inner join graph_nodes as b
    on b.identifier_type = p.other_type and b.identifier_value = p.other_value
where a.identifier_key < b.identifier_key
