-- One changed day's events, each placed by its smallest linked identifier. All linked
-- identifiers of one event belong to one identity, since the event links them.
insert into identity_journal by name
with placed as (
    select
        s.event_id,
        min(m.identifier_key) as identifier_key,
        arg_min(m.identity_id, m.identifier_key) as identity_id
    from identifier_sightings as s
    inner join identity_map as m using (identifier_type, identifier_value)
    where s.day = $day
    group by s.event_id
)

select
    p.identity_id,
    e.event_id,
    e.occurred_at,
    e.payload,
    e.day,
    e.source,
    e.kind,
    e.event_name,
    p.identifier_key
from raw_events as e
inner join placed as p using (event_id)
where e.day = $day;
