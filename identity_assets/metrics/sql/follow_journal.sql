-- Purchases follow the journal rows they came from: a row the journal moved to another
-- identity (a merge, a split) moves its purchase, and a row that left the journal takes its
-- purchase with it. Days read again this run were replaced whole before this.
update purchases
set identity_id = j.identity_id
from identity_journal as j
where j.event_id = purchases.event_id
    and j.day = purchases.day
    and j.identity_id <> purchases.identity_id;

delete from purchases
where not exists (
    select 1
    from identity_journal as j
    where j.event_id = purchases.event_id and j.day = purchases.day
);
