-- Rows of the changed identities outside the changed days follow their event's placement
-- (changed_placements, staged by placed_days): a merge moves the absorbed identity's rows to
-- the survivor, a split or a limit sends each row to its part, and a row whose event lost its
-- placement (every identifier blocked) leaves the journal. Only the rows whose placement
-- changed are written, in place and by row id: the write and what it reads follow the
-- identities that changed, never the payloads of the history.
create or replace temp table followed_rows as
select
    c.row_id,
    c.event_id,
    c.day,
    c.identity_id as previous_identity_id,
    p.identity_id,
    p.identifier_key
from changed_rows as c
left join changed_placements as p using (event_id, day)
where c.day not in (select day from journal_changed_days)
    and (p.identity_id is distinct from c.identity_id
        or p.identifier_key is distinct from c.identifier_key);

delete from identity_journal
where rowid in (select row_id from followed_rows where identity_id is null);

update identity_journal as j
set identity_id = f.identity_id, identifier_key = f.identifier_key
from followed_rows as f
where j.rowid = f.row_id and f.identity_id is not null;

insert into touched_identities
select c.identity_id
from changed_rows as c
anti join followed_rows as f using (row_id)
where c.day not in (select day from journal_changed_days)
union
select identity_id from followed_rows where identity_id is not null;

-- An identity that lost a row (moved away or no longer placed) or gained one from another
-- identity has its profile rebuilt from its journal; one whose rows stayed is only refreshed.
insert into profile_rebuilt
select identity_id from followed_rows where identity_id <> previous_identity_id
union
select previous_identity_id
from followed_rows
where identity_id is distinct from previous_identity_id;
