-- Rebuild the profiles of the touched identities from their journals. A trait is the latest
-- non-empty value received from any source; `firstName` and `first_name` are one trait (the
-- Customer.io identify spec), so names are compared in snake_case. Traits come from Segment
-- `traits` and `context.traits`, the client API's identify body and its `data`, and the
-- identifier API's email and phone.
delete from customer_profiles
where identity_id in (select identity_id from profile_touched);

insert into customer_profiles by name
with members as (
    select distinct t.identity_id
    from profile_touched as t
    inner join identities as i using (identity_id)
),

journal as (
    select j.*
    from identity_journal as j
    where j.identity_id in (select identity_id from members)
),

trait_objects as (
    select
        identity_id, occurred_at, event_id, 1 as rank, false as is_api_body,
        payload -> '$.traits' as traits
    from journal
    where source = 'segment' and kind = 'identify'
    union all
    select identity_id, occurred_at, event_id, 2, false, payload -> '$.context.traits'
    from journal
    where source = 'segment'
    union all
    select identity_id, occurred_at, event_id, 1, true, payload -> '$.body'
    from journal
    where source = 'client_api' and kind = 'identify'
    union all
    select identity_id, occurred_at, event_id, 2, false, payload -> '$.body.data'
    from journal
    where source = 'client_api' and kind = 'identify'
    union all
    select
        identity_id, occurred_at, event_id, 1, false,
        json_object('email', payload -> '$.body.email', 'phone', payload -> '$.body.phone')
    from journal
    where source = 'identifier_api'
),

received as (
    select
        o.identity_id,
        o.occurred_at,
        o.event_id,
        o.rank,
        t.key,
        t.value,
        trim(
            regexp_replace(
                lower(regexp_replace(t.key, '([a-z0-9])([A-Z])', '\1_\2', 'g')),
                '[^a-z0-9]+', '_', 'g'
            ),
            '_'
        ) as trait
    from trait_objects as o, json_each(o.traits) as t
    where json_type(o.traits) = 'OBJECT'
        -- the client API's identify body also carries the ids and `data`: not traits
        and not (o.is_api_body and t.key in ('external_id', 'anonymous_id', 'device_id', 'data'))
        and t.type <> 'NULL'
        and not (t.type = 'VARCHAR' and trim(t.value ->> '$') = '')
),

latest as (
    select identity_id, trait, value
    from received
    qualify row_number() over (
        partition by identity_id, trait
        order by occurred_at desc, event_id desc, rank, key
    ) = 1
),

traits as (
    select
        identity_id,
        max(trim(value ->> '$')) filter (where trait = 'email') as email,
        max(trim(value ->> '$')) filter (where trait = 'phone') as phone,
        max(trim(value ->> '$')) filter (where trait = 'name') as name,
        max(trim(value ->> '$')) filter (where trait = 'first_name') as first_name,
        max(trim(value ->> '$')) filter (where trait = 'last_name') as last_name,
        max(trim(value ->> '$')) filter (where trait = 'created_at') as created_at,
        to_json(map(
            list(trait order by trait) filter (
                where trait not in ('email', 'phone', 'name', 'first_name', 'last_name', 'created_at')
            ),
            list(value order by trait) filter (
                where trait not in ('email', 'phone', 'name', 'first_name', 'last_name', 'created_at')
            )
        )) as traits
    from latest
    group by identity_id
),

click_ids as (
    select distinct j.identity_id, s.identifier_type, s.identifier_value
    from identifier_sightings as s
    inner join journal as j using (event_id, day)
    where s.identifier_type in ('fbclid', 'gclid')
),

known as (
    select identity_id, identifier_type, identifier_value
    from identity_map
    where identity_id in (select identity_id from members)
    union all
    select identity_id, identifier_type, identifier_value from click_ids
),

by_type as (
    select identity_id, identifier_type, list(identifier_value order by identifier_value) as ids
    from known
    group by identity_id, identifier_type
),

identifiers as (
    select
        identity_id,
        to_json(map(list(identifier_type order by identifier_type), list(ids order by identifier_type)))
            as identifiers
    from by_type
    group by identity_id
),

activity as (
    select identity_id, list(distinct source order by source) as sources, count(*) as event_count
    from journal
    group by identity_id
)

select
    m.identity_id,
    t.email,
    t.phone,
    coalesce(t.name, nullif(concat_ws(' ', t.first_name, t.last_name), '')) as name,
    t.first_name,
    t.last_name,
    t.created_at,
    coalesce(t.traits, '{}') as traits,
    coalesce(d.identifiers, '{}') as identifiers,
    coalesce(a.sources, []) as sources,
    i.first_seen,
    i.last_seen,
    coalesce(a.event_count, 0) as event_count
from members as m
inner join identities as i using (identity_id)
left join traits as t using (identity_id)
left join identifiers as d using (identity_id)
left join activity as a using (identity_id);
