-- Rows of identities whose members moved follow the identifier that placed them: a merge
-- moves the absorbed identity's rows to the survivor, a split sends each row to its part.
create or replace temp table moved_keys as
select distinct identifier_key
from identity_journal
where identity_id in (select identity_id from journal_changed_identities);

update identity_journal
set identity_id = m.identity_id
from identity_map as m
where identity_journal.identifier_key = m.identifier_key
    and identity_journal.identity_id in (select identity_id from journal_changed_identities)
    and identity_journal.identity_id <> m.identity_id;

insert into profile_touched
select distinct m.identity_id
from identity_map as m
inner join moved_keys as k using (identifier_key);
