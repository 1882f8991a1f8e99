-- The links inside one identity: each pair of its identifiers seen in the same event, with the
-- earliest such event (its day, source and kind) and how many events carry the pair.
with members as (
    select identifier_type, identifier_value
    from identity_map
    where identity_id = $identity_id
),

seen as (
    select
        s.event_id,
        s.day,
        s.occurred_at,
        s.identifier_type,
        s.identifier_value,
        s.identifier_type || ':' || s.identifier_value as name
    from identifier_sightings as s
    inner join members using (identifier_type, identifier_value)
),

pairs as (
    select
        a.identifier_type as a_type,
        a.identifier_value as a_value,
        b.identifier_type as b_type,
        b.identifier_value as b_value,
        min(a.occurred_at) as first_at,
        arg_min(a.event_id, (a.occurred_at, a.event_id)) as event_id,
        arg_min(a.day, (a.occurred_at, a.event_id)) as day,
        count(distinct a.event_id) as events
    from seen as a
    inner join seen as b on a.event_id = b.event_id and a.name < b.name
    group by all
)

select p.*, e.source, e.kind
from pairs as p
inner join raw_events as e on e.event_id = p.event_id and e.day = p.day
order by p.first_at, p.a_type, p.a_value, p.b_type, p.b_value
