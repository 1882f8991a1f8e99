-- The events that link identifiers of clusters over a limit (or with an anonymous id aliased
-- twice), oldest first: limits are applied event by event in this order, so the result
-- follows from the data, not from run order. is_alias marks alias calls. node_sightings holds
-- the limited nodes' sightings.
with seen as (
    select distinct event_id, day, occurred_at, identifier_key
    from node_sightings
),

linking as (
    select event_id
    from seen
    group by event_id
    having count(*) > 1
)

select
    s.event_id,
    s.day,
    s.occurred_at,
    s.identifier_key,
    (s.event_id, s.day) in (
        select event_id, day from raw_events
        where kind = 'alias' and event_id in (select event_id from linking)
    ) as is_alias
from seen as s
where s.event_id in (select event_id from linking)
order by s.occurred_at, s.event_id, s.identifier_key
