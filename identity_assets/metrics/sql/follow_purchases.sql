-- Purchases follow the journal as its profiles do: those of the journal's changed days go
-- (insert_purchases reads those days again), and those on other days follow the rows the
-- journal logged as moved (purchase_moved_rows: where each row is now, null when it left the
-- journal). Only the small purchases table is read, never the journal.
delete from purchases
where day in (select day from purchase_changed_days);

create or replace temp table followed_purchases as
select p.rowid as row_id, m.identity_id
from purchases as p
inner join purchase_moved_rows as m using (event_id, day)
where p.day not in (select day from purchase_changed_days)
    and m.identity_id is distinct from p.identity_id;

delete from purchases
where rowid in (select row_id from followed_purchases where identity_id is null);

update purchases as p
set identity_id = f.identity_id
from followed_purchases as f
where p.rowid = f.row_id and f.identity_id is not null;
