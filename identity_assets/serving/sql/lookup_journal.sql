-- One identity's journal rows, most recent first, within an optional range and limit (SQLite
-- snapshot; $since and $until in microseconds since the epoch). The index by identity has two
-- parts (folded and recent, decision 0036): each is read in its order up to the limit, and
-- the two are merged.
with folded as (
    select source, kind, event_name, payload, created_at, occurred_us, event_id
    from identity_journal
    where recent = 0
        and identity_id = $id
        and ($since is null or occurred_us >= $since)
        and ($until is null or occurred_us < $until)
    order by occurred_us desc, event_id desc
    limit coalesce($limit, -1)
),

written_since as (
    select source, kind, event_name, payload, created_at, occurred_us, event_id
    from identity_journal
    where recent = 1
        and identity_id = $id
        and ($since is null or occurred_us >= $since)
        and ($until is null or occurred_us < $until)
    order by occurred_us desc, event_id desc
    limit coalesce($limit, -1)
)

select source, kind, event_name, payload, created_at
from (select * from folded union all select * from written_since)
order by occurred_us desc, event_id desc
limit coalesce($limit, -1)
