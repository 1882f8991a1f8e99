-- Edges between linked identifiers seen in the same event. Each event links its identifiers as
-- a star around its smallest key, which connects them with k - 1 edges instead of k(k-1)/2.
-- An identifier is seen at most once per event, so node_sightings needs no distinct.
with centres as (
    select event_id, min(identifier_key) as centre
    from node_sightings
    group by event_id
)

select distinct s.identifier_key as a, c.centre as b
from node_sightings as s
inner join centres as c using (event_id)
where s.identifier_key <> c.centre
