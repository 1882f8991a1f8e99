-- Journal rows of the changed days and identities (all in a sweep) whose identity is not in
-- identities. The rows are read as the changed days' rows, which the day's zone maps prune,
-- and the changed identities' rows on other days (an `or` of the two is a filter no scan can
-- prune), then counted by identity before the anti join: at 10M events a new day's check took
-- 0.11 s and a quiet day's 0.07 s, against 0.15-0.16 s for the anti join of every row first
-- (a sweep: 0.19 s against 0.15 s).
with checked_rows as (
    select identity_id
    from identity_journal
    where changed_day(day)
    union all
    select identity_id
    from identity_journal
    where changed_identity(identity_id) and not changed_day(day)
),

counted as (
    select identity_id, count(*) as rows
    from checked_rows
    group by identity_id
)

select c.identity_id, c.rows
from counted as c
anti join identities as i using (identity_id)
