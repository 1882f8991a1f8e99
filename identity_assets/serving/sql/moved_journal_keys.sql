-- The keys of the journal rows of the identities whose rows moved (`serving_placed_identities`),
-- on the days the journal did not replace (those are copied whole), with where each row is:
-- three narrow columns and the row id, so the scan never decodes a payload.
select identity_id, event_id, rowid
from identity_journal
where identity_id in (select identity_id from serving_placed_identities)
    and day not in (select day from serving_journal_days)
