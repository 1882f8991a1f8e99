-- Days the identity stage resolved again (or dropped) since the journal last followed them.
create or replace temp table journal_changed_days as
select coalesce(i.day, j.day) as day, i.day is null as removed
from identity_days as i
full outer join journal_days as j on j.day = i.day
where i.day is null or j.day is null or i.resolved_at is distinct from j.resolved_at;
