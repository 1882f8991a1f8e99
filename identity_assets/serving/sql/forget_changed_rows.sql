-- The changed rows leave the snapshot (SQLite; `changed_days`, `moved` and `changed` staged in
-- temp), to be copied again from the warehouse: the journal's rows of the days the journal
-- replaced and of the identities whose rows moved, and the changed identities' profiles and
-- identifiers.
delete from identity_journal where day in (select day from temp.changed_days);

delete from identity_journal where identity_id in (select identity_id from temp.moved);

delete from customer_profiles where identity_id in (select identity_id from temp.changed);

delete from identity_map where identity_id in (select identity_id from temp.changed);
