-- Rows whose placing identifier no longer links (it became blocked): the event's other
-- linked identifiers place it, or it leaves the journal when it has none.
create or replace temp table orphans as
select j.event_id, j.day
from identity_journal as j
anti join identity_map as m using (identifier_key)
where j.identity_id in (select identity_id from journal_changed_identities);

create or replace temp table replaced_orphans as
select
    s.event_id,
    min(m.identifier_key) as identifier_key,
    arg_min(m.identity_id, m.identifier_key) as identity_id
from identifier_sightings as s
inner join orphans as o using (event_id, day)
inner join identity_map as m using (identifier_type, identifier_value)
group by s.event_id;

update identity_journal
set identity_id = r.identity_id, identifier_key = r.identifier_key
from replaced_orphans as r
where identity_journal.event_id = r.event_id
    and identity_journal.day in (select day from orphans);

delete from identity_journal
where event_id in (select event_id from orphans)
    and event_id not in (select event_id from replaced_orphans);

insert into profile_touched
select distinct identity_id from replaced_orphans;
