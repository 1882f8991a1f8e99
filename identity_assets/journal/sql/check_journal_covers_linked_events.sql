-- Every accepted event carrying a linked identifier is in the journal exactly once: events
-- missing from it, present twice, or present without a linked identifier.
with linked as (
    select distinct s.event_id
    from identifier_sightings as s
    inner join identity_map as m using (identifier_type, identifier_value)
),

journal as (
    select event_id, count(*) as copies
    from identity_journal
    group by event_id
)

select
    coalesce(l.event_id, j.event_id) as event_id,
    case
        when j.event_id is null then 'missing from the journal'
        when l.event_id is null then 'in the journal without a linked identifier'
        else 'in the journal ' || j.copies || ' times'
    end as problem
from linked as l
full outer join journal as j using (event_id)
where l.event_id is null or j.event_id is null or j.copies > 1
