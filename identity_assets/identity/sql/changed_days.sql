-- Days whose raw events changed since this stage last read them, or that were removed.
create or replace temp table changed_days as
with landed as (
    select day, max(ingested_at) as ingested_at
    from raw_files
    group by day
)

select coalesce(l.day, d.day) as day
from landed as l
full outer join identity_days as d on d.day = l.day
where d.day is null or l.day is null or l.ingested_at > d.ingested_at
