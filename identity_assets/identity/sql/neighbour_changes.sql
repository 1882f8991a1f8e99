-- The neighbour pairs (identifier_neighbours) of the sightings of `sighting_days`, counted
-- $sign times: -1 for the sightings about to be deleted, 1 for those just inserted.
insert into neighbour_changes
select
    m.identifier_type,
    m.identifier_value,
    o.identifier_type,
    o.identifier_value,
    $sign * count(*)
from identifier_sightings as m
inner join identifier_sightings as o
    on o.event_id = m.event_id
    and o.day = m.day
    and o.problem is null
    and o.identifier_type in ('user_id', 'email', 'phone')
    and not (o.identifier_type = m.identifier_type and o.identifier_value = m.identifier_value)
where m.day in (select day from sighting_days)
    and o.day in (select day from sighting_days)
    and m.identifier_type not in ('fbclid', 'gclid')
    and m.problem is null
group by all
