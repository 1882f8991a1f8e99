-- Blocked identifiers carried by one identity's events: they would have linked it to others.
-- Click ids are left out: they never link by design, so they explain nothing.
with members as (
    select identifier_type, identifier_value
    from identity_map
    where identity_id = $identity_id
),

events as (
    select distinct s.event_id
    from identifier_sightings as s
    inner join members using (identifier_type, identifier_value)
)

select
    s.identifier_type,
    s.identifier_value,
    any_value(i.block_reason) as block_reason,
    count(distinct s.event_id) as events
from identifier_sightings as s
inner join events using (event_id)
inner join identifiers as i using (identifier_type, identifier_value)
where i.status = 'blocked' and i.block_reason <> 'click_id'
group by s.identifier_type, s.identifier_value
order by events desc, s.identifier_type, s.identifier_value
limit 20
