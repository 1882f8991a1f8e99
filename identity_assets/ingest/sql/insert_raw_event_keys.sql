-- The batch's new events' keys (raw_event_keys): written with raw_events, read by judge_lines.
insert into raw_event_keys
select day, md5_number_lower(event_id)
from raw_events
where day in (select day from batch_days)
