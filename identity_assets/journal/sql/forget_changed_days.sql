-- The identities of the changed days' rows need new profiles; then the rows go.
insert into touched_identities
select distinct identity_id
from identity_journal
where day in (select day from journal_changed_days);

delete from identity_journal
where day in (select day from journal_changed_days);
