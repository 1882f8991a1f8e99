-- Purchases follow the journal as its profiles do: those of the journal's changed days go
-- (insert_purchases reads those days again), and those of its changed identities on other
-- days follow their rows' identities, moved or gone with them. A row that moved went from
-- one changed identity to another (the journal logs both), so only the changed identities'
-- purchases and rows are compared, on narrow columns: no payload is read.
delete from purchases
where day in (select day from purchase_changed_days);

create or replace temp table followed_purchases as
select p.rowid as row_id, j.identity_id
from purchases as p
left join (
    select event_id, day, identity_id
    from identity_journal
    where identity_id in (select identity_id from purchase_identities)
        and day not in (select day from purchase_changed_days)
) as j using (event_id, day)
where p.identity_id in (select identity_id from purchase_identities)
    and j.identity_id is distinct from p.identity_id;

delete from purchases
where rowid in (select row_id from followed_purchases where identity_id is null);

update purchases as p
set identity_id = f.identity_id
from followed_purchases as f
where p.rowid = f.row_id and f.identity_id is not null;
