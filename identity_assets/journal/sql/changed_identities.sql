-- Identities whose members moved since the journal last followed the identity stage.
create or replace temp table journal_changed_identities as
select distinct identity_id
from identity_changes
where changed_at > coalesce(
    (select max(changes_applied_through) from journal_progress), '-infinity'::timestamp
);
