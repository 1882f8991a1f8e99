-- Clear the batch's days before their new rows go in (same transaction).
delete from raw_events where day in (select day from batch_days);
delete from raw_event_rejects where day in (select day from batch_days);
delete from raw_files where day in (select day from batch_days);
delete from raw_event_keys where day in (select day from batch_days);
