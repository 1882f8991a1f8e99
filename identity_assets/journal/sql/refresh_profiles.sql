-- Rebuild the profiles of the touched identities from their journals. A trait is the latest
-- non-empty value received from any source (each journal row carries its event's traits, read
-- from the payload once when the row was placed).
delete from customer_profiles
where identity_id in (select identity_id from profile_touched);

insert into customer_profiles by name
with members as (
    select distinct t.identity_id
    from profile_touched as t
    inner join identities as i using (identity_id)
),

journal as (
    select j.identity_id, j.event_id, j.day, j.occurred_at, j.source, j.traits
    from identity_journal as j
    where j.identity_id in (select identity_id from members)
),

received as (
    select j.identity_id, j.occurred_at, j.event_id, t.key as trait, t.value
    from journal as j, json_each(j.traits) as t
    where j.traits is not null
),

latest as (
    select identity_id, trait, arg_max(value, (occurred_at, event_id)) as value
    from received
    group by identity_id, trait
),

traits as (
    select
        identity_id,
        max(clean_text(value ->> '$')) filter (where trait = 'email') as email,
        max(clean_text(value ->> '$')) filter (where trait = 'phone') as phone,
        max(clean_text(value ->> '$')) filter (where trait = 'name') as name,
        max(clean_text(value ->> '$')) filter (where trait = 'first_name') as first_name,
        max(clean_text(value ->> '$')) filter (where trait = 'last_name') as last_name,
        max(clean_text(value ->> '$')) filter (where trait = 'created_at') as created_at,
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

-- click ids never link, so they are not in identity_map: read from the events, trimmed as the
-- identity stage keeps them
click_ids as (
    select distinct j.identity_id, 'fbclid' as identifier_type, clean_text(e.fbclid) as identifier_value
    from raw_events as e
    inner join journal as j using (event_id, day)
    where e.fbclid is not null
    union
    select distinct j.identity_id, 'gclid', clean_text(e.gclid)
    from raw_events as e
    inner join journal as j using (event_id, day)
    where e.gclid is not null
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
