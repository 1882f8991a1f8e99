-- The identifier pairs (identifier_pairs) of the sightings of `sighting_batch` (a batch of
-- sighting_days), counted $sign times: -1 for the sightings about to be deleted, 1 for those
-- just inserted. Click ids and sightings with a problem never link, so they make no pairs.
insert into neighbour_changes
with day_sightings as materialized (
    select event_id, day, identifier_type, identifier_value
    from identifier_sightings
    where day in (select day from sighting_batch)
        and problem is null
        and identifier_type not in ('fbclid', 'gclid')
)

select
    m.identifier_type,
    m.identifier_value,
    o.identifier_type,
    o.identifier_value,
    $sign * count(*)
from day_sightings as m
inner join day_sightings as o
    on o.event_id = m.event_id
    and o.day = m.day
    and not (o.identifier_type = m.identifier_type and o.identifier_value = m.identifier_value)
group by all
