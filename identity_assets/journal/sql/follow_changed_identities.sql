-- Rows of identities whose members moved are placed again, the way a new day's rows are: by
-- the event's highest-priority linked identifier (identifier_rules). A merge moves the
-- absorbed identity's rows to the survivor, a split or a limit sends each row to its part, and
-- a row whose identifiers all stopped linking (blocked) leaves the journal. The rows are taken
-- out and put back, so the write is proportional to the identities that changed.
create or replace temp table changed_rows as
select *
from identity_journal
where identity_id in (select identity_id from journal_changed_identities);

create or replace temp table replaced_placements as
select
    s.event_id,
    arg_min(m.identifier_key, (coalesce(r.priority, 99), m.identifier_value)) as identifier_key,
    arg_min(m.identity_id, (coalesce(r.priority, 99), m.identifier_value)) as identity_id
from identifier_sightings as s
inner join (select event_id, day from changed_rows) as c using (event_id, day)
inner join identity_map as m using (identifier_type, identifier_value)
left join identifier_rules as r using (identifier_type)
group by s.event_id;

create or replace temp table followed_rows as
select
    c.* replace (r.identity_id as identity_id, r.identifier_key as identifier_key),
    c.identity_id as previous_identity_id
from changed_rows as c
inner join replaced_placements as r using (event_id);

delete from identity_journal
where identity_id in (select identity_id from journal_changed_identities);

insert into identity_journal by name
select * exclude (previous_identity_id) from followed_rows;

insert into touched_identities
select distinct identity_id from followed_rows;
