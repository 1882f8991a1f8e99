-- The keys of the snapshot's journal rows of the identities whose rows moved (SQLite; `moved`
-- and `changed_days` staged in temp), on the days not replaced: what the warehouse's are
-- compared with.
select identity_id, event_id
from identity_journal
where identity_id in (select identity_id from temp.moved)
    and day not in (select day from temp.changed_days)
