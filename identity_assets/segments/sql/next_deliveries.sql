-- Pending updates not in flight whose earlier changes (same identity and segment) are all sent:
-- each pair's changes go out in order, one at a time.
select update_id, payload, attempts
from segment_updates as u
where status = 'pending'
    and dispatched_at is null
    and not exists (
        select 1
        from segment_updates as e
        where e.identity_id = u.identity_id
            and e.segment = u.segment
            and e.queue_seq < u.queue_seq
            and e.status <> 'sent'
    )
order by queue_seq
limit $batch
