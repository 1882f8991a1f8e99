-- Anonymous ids of this run's graph aliased to more than one user id. An alias "can only be
-- performed once" (the client API): their clusters are split event by event, so the first
-- alias links and a later one to another user id is a refused link, whatever the limits say.
with aliases as (
    select s.event_id, s.day, n.identifier_type, s.identifier_key
    from node_sightings as s
    inner join graph_nodes as n using (identifier_key)
    where n.identifier_type in ('anonymous_id', 'user_id')
        and (s.event_id, s.day) in (select event_id, day from raw_events where kind = 'alias')
)

select a.identifier_key
from aliases as a
inner join aliases as u
    on u.event_id = a.event_id and u.day = a.day and u.identifier_type = 'user_id'
where a.identifier_type = 'anonymous_id'
group by a.identifier_key
having count(distinct u.identifier_key) > 1
