-- A digest of the outbox's rows and how far each got: the data version of segment_updates.
select count(*), coalesce(bit_xor(hash(update_id, status, attempts, last_http_status)), 0)
from segment_updates
