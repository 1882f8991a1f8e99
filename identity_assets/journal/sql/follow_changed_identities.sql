-- Rows of identities whose members moved follow the identifier that placed them: a merge
-- moves the absorbed identity's rows to the survivor, a split sends each row to its part.
-- A row whose placing identifier no longer links (it became blocked) is placed by the event's
-- other linked identifiers, or leaves the journal when it has none. The rows are taken out
-- and put back, so the write is proportional to the identities that changed.
create or replace temp table changed_rows as
select *
from identity_journal
where identity_id in (select identity_id from journal_changed_identities);

create or replace temp table replaced_placements as
with orphans as (
    select c.event_id, c.day
    from changed_rows as c
    anti join identity_map as m using (identifier_key)
)

select
    s.event_id,
    min(m.identifier_key) as identifier_key,
    arg_min(m.identity_id, m.identifier_key) as identity_id
from identifier_sightings as s
inner join orphans as o using (event_id, day)
inner join identity_map as m using (identifier_type, identifier_value)
group by s.event_id;

create or replace temp table followed_rows as
select
    c.* replace (
        coalesce(m.identity_id, r.identity_id) as identity_id,
        coalesce(m.identifier_key, r.identifier_key) as identifier_key
    ),
    c.identity_id as previous_identity_id
from changed_rows as c
left join identity_map as m on m.identifier_key = c.identifier_key
left join replaced_placements as r on r.event_id = c.event_id
where coalesce(m.identity_id, r.identity_id) is not null;

delete from identity_journal
where identity_id in (select identity_id from journal_changed_identities);

insert into identity_journal by name
select * exclude (previous_identity_id) from followed_rows;

insert into touched_identities
select distinct identity_id from followed_rows;
