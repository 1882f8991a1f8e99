-- The snapshot's identity_journal rows from the warehouse (`serving_identity_journal`: all of
-- them, or those a new version copies again), with the moment both as a number to filter by
-- and as the text a journal entry shows. Stored by day, as a new version replaces them: a new
-- day's rows are appended together and a replaced day's pages freed together (stored by
-- identity, one day's rows would touch nearly every page); look-ups go through the index.
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
from serving_identity_journal
order by day, identity_id, occurred_at desc, event_id desc
