-- The snapshot's indexes (SQLite), made once its rows are in: one per look-up, and those a
-- new version's changes delete by (the map by identity, the journal by day).
create index identity_map_folded_by_identity on identity_map_folded (identity_id);

create index identity_map_recent_by_identity on identity_map_recent (identity_id);

create index identity_map_folded_by_uid2_hash on identity_map_folded (identifier_type, uid2_hash)
where uid2_hash is not null;

create index identity_map_recent_by_uid2_hash on identity_map_recent (identifier_type, uid2_hash)
where uid2_hash is not null;

-- The journal's by identity in two parts, the rows folded (recent = 0) and those versions wrote
-- since (recent = 1): a new day's entries go to the small part and leave the large one's pages
-- alone, and the weekly compaction folds them in (decision 0036). A look-up reads both.
create index identity_journal_by_identity
on identity_journal (recent, identity_id, occurred_us, event_id);

create index identity_journal_by_day on identity_journal (day);
