-- Edges between linked identifiers seen in the same event. Each event links its identifiers as
-- a star around its smallest key, which connects them with k - 1 edges instead of k(k-1)/2.
-- Blocked identifiers are not nodes, so they never link anything.
-- An identifier is seen at most once per event, so `seen` needs no distinct.
with seen as (
    select s.event_id, n.identifier_key
    from identifier_sightings as s
    inner join graph_nodes as n using (identifier_type, identifier_value)
),

centres as (
    select event_id, min(identifier_key) as centre
    from seen
    group by event_id
)

select distinct s.identifier_key as a, c.centre as b
from seen as s
inner join centres as c using (event_id)
where s.identifier_key <> c.centre
