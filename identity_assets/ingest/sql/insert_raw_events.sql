-- The accepted events of the batch; a whole line's payload is its text, exactly as read.
insert into raw_events by name
select
    e.event_id,
    e.day,
    e.source_file,
    e.line_number,
    e.element_index,
    e.source,
    e.kind,
    e.event_name,
    e.occurred_at,
    e.received_at,
    cast(coalesce(e.payload, u.line) as json) as payload,
    e.message_id,
    e.user_id,
    e.anonymous_id,
    e.previous_id,
    e.email,
    e.phone,
    e.device_id,
    e.platform,
    e.fbclid,
    e.gclid,
    e.email_hash,
    e.phone_hash
from landed_events as e
inner join line_outcomes as o using (rid)
inner join landed_lines_unnumbered as u on u.rowid = e.rid
where o.reason is null
