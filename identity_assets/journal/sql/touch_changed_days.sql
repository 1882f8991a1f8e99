-- The identities the changed days' rows now belong to need new profiles too.
insert into touched_identities
select distinct identity_id
from identity_journal
where day in (select day from journal_changed_days);
