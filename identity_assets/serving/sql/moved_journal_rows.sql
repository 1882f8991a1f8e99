-- The journal rows the journal logged as moved (`serving_moved_rows`, staged from change_rows)
-- on the days the new version does not replace (those are copied whole): the identity each
-- row left, where it is now (null: it left the journal) and its event; in the order of the
-- snapshot's index by identity, which the update finds each row by.
select previous_identity_id, identity_id, event_id
from serving_moved_rows
where day not in (select day from serving_journal_days)
order by previous_identity_id, event_id
