-- Replace the affected identities' rows: map, then one summary row per identity.
delete from identities
where identity_id in (
    select m.identity_id
    from identity_map as m
    inner join affected_identifiers as a using (identifier_type, identifier_value)
)
or identity_id in (select identity_id from new_identity_map);

delete from identity_map
using affected_identifiers as a
where identity_map.identifier_type = a.identifier_type
    and identity_map.identifier_value = a.identifier_value;

insert into identity_map by name
select identifier_type, identifier_value, identity_id, identifier_key, cluster_key
from new_identity_map;

insert into identities by name
with limited as (
    -- clusters a limit split: an event there may hold identifiers of several identities
    select distinct cluster_key from run_refusals
),

placed as (
    -- there, each event counts once, for the identity of its highest-priority identifier
    -- (the one it joined)
    select arg_min(n.identity_id, (t.priority, n.identifier_value)) as identity_id
    from new_identity_map as n
    inner join identifier_sightings as s using (identifier_type, identifier_value)
    inner join type_rules as t using (identifier_type)
    where n.cluster_key in (select cluster_key from limited)
    group by s.event_id
),

identity_events as (
    -- an event counts once however many of the identity's identifiers it carries (a distinct
    -- before counting: a count(distinct) per identity is several times slower)
    select distinct n.identity_id, s.event_id
    from new_identity_map as n
    inner join identifier_sightings as s using (identifier_type, identifier_value)
    where n.cluster_key not in (select cluster_key from limited)
),

events as (
    select identity_id, count(*) as event_count
    from identity_events
    group by identity_id
    union all
    select identity_id, count(*)
    from placed
    group by identity_id
)

select
    n.identity_id,
    min(i.first_seen) as first_seen,
    max(i.last_seen) as last_seen,
    count(*) as identifier_count,
    any_value(e.event_count) as event_count,
    any_value(n.anchor_type) as anchor_type,
    any_value(n.anchor_value) as anchor_value
from new_identity_map as n
inner join identifiers as i using (identifier_key)
inner join events as e using (identity_id)
group by n.identity_id;
