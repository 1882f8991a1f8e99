-- Anonymous ids of this run's graph aliased to more than one user id. An alias "can only be
-- performed once" (the client API): their clusters are split event by event, so the first
-- alias links and a later one to another user id is a refused link, whatever the limits say.
-- Only an anonymous id seen in events with two user ids can be one, so only its events are
-- looked up in raw_events (few events on few days, which the day's zone maps find).
with pairs as (
    select a.event_id, a.day, a.identifier_key as anonymous_key, u.identifier_key as user_key
    from node_sightings as a
    inner join graph_nodes as an on an.identifier_key = a.identifier_key
    inner join node_sightings as u on u.event_id = a.event_id and u.day = a.day
    inner join graph_nodes as un on un.identifier_key = u.identifier_key
    where an.identifier_type = 'anonymous_id' and un.identifier_type = 'user_id'
),

candidates as (
    select *
    from pairs
    where anonymous_key in (
        select anonymous_key
        from pairs
        group by anonymous_key
        having count(distinct user_key) > 1
    )
),

alias_events as (
    select event_id, day
    from raw_events
    where kind = 'alias' and (event_id, day) in (select event_id, day from candidates)
)

select c.anonymous_key as identifier_key
from candidates as c
semi join alias_events as e using (event_id, day)
group by c.anonymous_key
having count(distinct c.user_key) > 1
