-- The events to place again outside the days placed whole (`placement_days`): those carrying an
-- identifier that started or stopped linking, which can change the identifier that places
-- them. An event whose placing identifier only moved to another identity keeps that identifier
-- (moved_placements.sql). Only these identifiers' sightings are read, and none when there are
-- none.
create or replace temp table relinked as
select identifier_type, identifier_value
from moved_identifiers
where new_id is null
union
select identifier_type, identifier_value
from newly_linked;

create or replace temp table placement_events as
select distinct s.event_id, s.day
from identifier_sightings as s
semi join relinked as r using (identifier_type, identifier_value)
where s.day not in (select day from placement_days)
