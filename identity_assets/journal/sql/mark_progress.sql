-- Remember the identity runs the journal now reflects.
delete from journal_days;

insert into journal_days
select day, resolved_at from identity_days;

delete from journal_progress;

insert into journal_progress
select max(changed_at) from identity_changes;
