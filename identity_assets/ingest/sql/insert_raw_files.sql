-- One row per landed file of the batch with its line counts; landed_files comes from the file
-- listing (size, modification time), the counts from the line outcomes.
insert into raw_files by name
with counts as (
    select
        o.source_file,
        count(*) as lines_read,
        count(*) filter (where o.reason is null) as lines_accepted,
        count(*) filter (where o.reason is not null) as lines_rejected
    from line_outcomes as o
    group by o.source_file
),

events as (
    select e.source_file, count(*) as events_accepted
    from landed_events as e
    inner join line_outcomes as o using (rid)
    where o.reason is null
    group by e.source_file
)

select
    f.day,
    f.source_file,
    f.bytes,
    f.modified_at,
    coalesce(c.lines_read, 0) as lines_read,
    coalesce(c.lines_accepted, 0) as lines_accepted,
    coalesce(c.lines_rejected, 0) as lines_rejected,
    coalesce(e.events_accepted, 0) as events_accepted,
    cast(now() as timestamp) as ingested_at
from landed_files as f
left join counts as c using (source_file)
left join events as e using (source_file)
