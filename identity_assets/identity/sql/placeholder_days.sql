-- Days holding a value whose placeholder status changed are read again, so their sightings
-- are marked by the new list and everything they reach is re-resolved.
insert into changed_days
select distinct day
from identifier_sightings
where lower(clean_text(raw_value)) in (select value from placeholder_changes)
except
select day
from changed_days
