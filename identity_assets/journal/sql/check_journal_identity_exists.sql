-- Journal rows of the changed days and identities (all in a sweep) whose identity is not in
-- identities. The rows are read as the changed days' rows, which the day's zone maps prune,
-- and the changed identities' rows on other days, then counted by identity before the anti
-- join. On other days a changed identity's rows fail only when the identity is gone, so only
-- the rows of the changed identities (`check_identities`) that are gone are read: in most runs
-- none, and DuckDB then reads no row of the journal for them (at 10M events 0.20-0.36 s ->
-- 0.07-0.09 s, against every changed identity's rows found by a scan of the whole journal).
with checked_rows as (
    select identity_id
    from identity_journal
    where changed_day(day)
    union all
    select identity_id
    from identity_journal
    where not changed_day(day)
        and identity_id in (
            select identity_id
            from check_identities
            anti join identities using (identity_id)
        )
),

counted as (
    select identity_id, count(*) as rows
    from checked_rows
    group by identity_id
)

select c.identity_id, c.rows
from counted as c
anti join identities as i using (identity_id)
