-- One identity's journal rows, most recent first, within an optional range and limit (SQLite
-- snapshot; $since and $until in microseconds since the epoch).
select source, kind, event_name, payload, created_at
from identity_journal
where identity_id = $id
    and ($since is null or occurred_us >= $since)
    and ($until is null or occurred_us < $until)
order by occurred_us desc, event_id desc
limit coalesce($limit, -1)
