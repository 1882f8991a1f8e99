-- Identifiers seen on the changed days before they are re-read: their statistics, status and
-- identities may change even if the new files no longer carry them.
create or replace temp table touched as
select distinct identifier_type, identifier_value
from identifier_sightings
where day in (select day from changed_days)
