-- The keys of the changed identities' rows and placements outside the changed days, read once
-- from narrow columns (never a payload): the rows follow these (follow_changed_identities).
-- Every placement of a changed identity's row names a changed identity (the identity stage
-- logs the old and the new identity of each placement it changed), so both sides are found
-- by the changed identities alone. Each table's row ids are found first, from its identity
-- column alone, and only those rows' other columns read: a day's few thousand changed
-- identities have some 40,000 rows among 10M, and reading every row's event id to keep those
-- took twice as long (0.16-0.18 s against 0.07-0.09 s a table, warm).
create or replace temp table changed_rows as
select rowid as row_id, event_id, day, identity_id, identifier_key
from identity_journal
where rowid in (
    select rowid
    from identity_journal
    where identity_id in (select identity_id from journal_changed_identities)
)
    and day not in (select day from journal_changed_days);

create or replace temp table changed_placements as
select event_id, day, identity_id, identifier_key
from event_placements
where rowid in (
    select rowid
    from event_placements
    where identity_id in (select identity_id from journal_changed_identities)
)
    and day not in (select day from journal_changed_days);

-- Days holding an event newly placed with a changed identity (an identifier that links again)
-- that the journal does not hold yet: they are placed again whole, like a changed day.
insert into journal_changed_days
select distinct p.day
from changed_placements as p
anti join changed_rows as c using (event_id, day);
