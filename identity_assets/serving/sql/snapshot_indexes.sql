-- The snapshot's indexes (SQLite), made once its rows are in: one per look-up, and those a
-- new version's changes delete by (the map by identity, the journal by day).
create index identity_map_by_identity on identity_map (identity_id);

create index identity_map_by_uid2_hash on identity_map (identifier_type, uid2_hash)
where uid2_hash is not null;

create index identity_journal_by_identity
on identity_journal (identity_id, occurred_us, event_id);

create index identity_journal_by_day on identity_journal (day);
