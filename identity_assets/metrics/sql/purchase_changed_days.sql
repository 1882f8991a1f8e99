-- Journal days whose purchases must be read again: new, rebuilt since they were read, gone
-- from the journal, or read under other purchase rules.
create or replace temp table purchase_changed_days as
select coalesce(j.day, p.day) as day
from journal_days as j
full outer join purchase_days as p on p.day = j.day
where p.day is null
    or j.day is null
    or j.resolved_at is distinct from p.resolved_at
    or p.rules <> $rules
