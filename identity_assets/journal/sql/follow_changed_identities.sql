-- Rows of the changed identities outside the changed days follow their event's placement
-- (event_placements): a merge moves the absorbed identity's rows to the survivor, a split or a
-- limit sends each row to its part, and a row whose event lost its placement (every identifier
-- blocked) leaves the journal. The rows are taken out and put back, so the write is
-- proportional to the identities that changed.
create or replace temp table changed_rows as
select *
from identity_journal
where identity_id in (select identity_id from journal_changed_identities)
    and day not in (select day from journal_changed_days);

create or replace temp table followed_rows as
select
    c.* replace (p.identity_id as identity_id, p.identifier_key as identifier_key),
    c.identity_id as previous_identity_id
from changed_rows as c
inner join event_placements as p using (event_id, day);

delete from identity_journal
where identity_id in (select identity_id from journal_changed_identities)
    and day not in (select day from journal_changed_days);

insert into identity_journal by name
select * exclude (previous_identity_id) from followed_rows;

insert into touched_identities
select distinct identity_id from followed_rows;

-- An identity that lost a row (moved away or no longer placed) or gained one from another
-- identity has its profile rebuilt from its journal; one whose rows stayed is only refreshed.
insert into profile_rebuilt
select identity_id from followed_rows where identity_id <> previous_identity_id
union
select c.identity_id
from changed_rows as c
anti join followed_rows as f
    on f.event_id = c.event_id and f.day = c.day and f.identity_id = c.identity_id;
