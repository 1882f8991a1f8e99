-- One changed day's events, each with the identity the identity stage placed it with
-- (event_placements), and the traits the event carries, read once here so profiles never
-- re-parse payloads.
-- Trait sources: Segment `traits` and `context.traits`, the client API's identify body and its
-- `data`, the identifier API's email and phone. `firstName` and `first_name` are one trait
-- (the Customer.io identify spec), so names are kept in snake_case.
insert into identity_journal by name
with events as (
    select e.*, p.identity_id, p.identifier_key
    from raw_events as e
    inner join event_placements as p using (event_id, day)
    where e.day = $day and p.day = $day
),

trait_objects as (
    select event_id, 1 as rank, false as is_api_body, payload -> '$.traits' as traits
    from events
    where source = 'segment' and kind = 'identify'
    union all
    select event_id, 2, false, payload -> '$.context.traits'
    from events
    where source = 'segment' and contains(payload, '"traits"')
    union all
    select event_id, 1, true, payload -> '$.body'
    from events
    where source = 'client_api' and kind = 'identify'
    union all
    select event_id, 2, false, payload -> '$.body.data'
    from events
    where source = 'client_api' and kind = 'identify'
    union all
    select
        event_id, 1, false,
        json_object('email', payload -> '$.body.email', 'phone', payload -> '$.body.phone')
    from events
    where source = 'identifier_api'
),

received as (
    select
        o.event_id,
        t.value,
        snake_name(t.key) as trait,
        o.rank,
        t.key
    from trait_objects as o, json_each(o.traits) as t
    where json_type(o.traits) = 'OBJECT'
        -- the client API's identify body also carries the ids and `data`: not traits
        and not (o.is_api_body and t.key in ('external_id', 'anonymous_id', 'device_id', 'data'))
        and t.type <> 'NULL'
        and not (t.type = 'VARCHAR' and clean_text(t.value ->> '$') = '')
),

-- where two objects carry a trait, the first source wins (rank, then key: `firstName` before
-- `first_name`); an aggregate, cheaper than a window over the rows
first_received as (
    select event_id, trait, arg_min(value, (rank, key)) as value
    from received
    group by event_id, trait
),

event_traits as (
    select event_id, to_json(map_from_entries(list_sort(list({'key': trait, 'value': value}))))
        as traits
    from first_received
    group by event_id
)

select
    e.identity_id,
    e.event_id,
    e.occurred_at,
    e.payload,
    e.day,
    e.source,
    e.kind,
    e.event_name,
    e.identifier_key,
    t.traits
from events as e
left join event_traits as t using (event_id)
