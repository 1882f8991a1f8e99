-- Segment updates not delivered yet: failed (retried next run) or still pending.
select update_id, identity_id, segment, change, status, attempts, last_http_status, last_error
from segment_updates
where status <> 'sent'
order by queue_seq
