-- The snapshot's identity_journal rows from the warehouse, in look-up order, with the moment
-- both as a number to filter by and as the text a journal entry shows.
select
    identity_id,
    epoch_us(occurred_at) as occurred_us,
    event_id,
    source,
    kind,
    event_name,
    payload,
    strftime(occurred_at, '%Y-%m-%dT%H:%M:%S.%fZ') as created_at,
    strftime(day, '%Y-%m-%d') as day
from identity_journal
order by identity_id, occurred_at desc, event_id desc
