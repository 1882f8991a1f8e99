-- One identity's journal rows, most recent first, within an optional range and limit (SQLite
-- snapshot; $since and $until in microseconds since the epoch). The index by identity has two
-- parts (folded and recent, decision 0036): `entries` is not materialised, so each part reads
-- its own index range in order and stops at the limit, and the two are merged.
with entries as not materialized (
    select source, kind, event_name, payload, created_at, occurred_us, event_id, recent
    from identity_journal
    where identity_id = $id
        and ($since is null or occurred_us >= $since)
        and ($until is null or occurred_us < $until)
),

parts as (
    select * from (
        select * from entries
        where recent = 0
        order by occurred_us desc, event_id desc
        limit coalesce($limit, -1)
    )
    union all
    select * from (
        select * from entries
        where recent = 1
        order by occurred_us desc, event_id desc
        limit coalesce($limit, -1)
    )
)

select source, kind, event_name, payload, created_at
from parts
order by occurred_us desc, event_id desc
limit coalesce($limit, -1)
