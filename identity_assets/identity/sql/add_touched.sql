-- The identifiers the changed days now carry join the touched set.
insert into touched
select distinct identifier_type, identifier_value
from identifier_sightings
where day in (select day from changed_days)
except
select identifier_type, identifier_value
from touched
