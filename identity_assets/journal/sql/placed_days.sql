-- Days holding an event newly placed with a changed identity (an identifier that links again)
-- that the journal does not hold yet: they are placed again whole, like a changed day.
insert into journal_changed_days
select distinct p.day
from event_placements as p
where p.identity_id in (select identity_id from journal_changed_identities)
    and p.day not in (select day from journal_changed_days)
    and not exists (
        select 1 from identity_journal as j where j.event_id = p.event_id and j.day = p.day
    );
