-- One identity's named events between $start and $end (microseconds since the epoch), most
-- recent first, with the epoch second and the date a profile answer shows (SQLite snapshot;
-- both parts of the index by identity, decision 0036).
select event_name, source, payload, occurred_us / 1000000, substr(created_at, 1, 19) || 'Z'
from identity_journal
where recent in (0, 1)
    and identity_id = $id
    and occurred_us between $start and $end
    and event_name is not null
order by occurred_us desc, event_id desc
