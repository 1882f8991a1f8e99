-- Remember which version of each changed day the sightings were built from.
delete from identity_days where day in (select day from changed_days);

insert into identity_days
select day, max(ingested_at), now()
from raw_files
where day in (select day from changed_days)
group by day;
