-- Files whose lines read differ from the accepted plus rejected lines stored for them, of the
-- changed days (every day in a sweep). Zero rows means no line was dropped or stored twice.
with accepted as (
    select source_file, count(distinct line_number) as lines
    from raw_events
    where changed_day(day)
    group by source_file
),

rejected as (
    select source_file, count(*) as lines
    from raw_event_rejects
    where changed_day(day)
    group by source_file
)

select
    f.day,
    f.source_file,
    f.lines_read,
    coalesce(a.lines, 0) as lines_accepted,
    coalesce(r.lines, 0) as lines_rejected
from raw_files as f
left join accepted as a using (source_file)
left join rejected as r using (source_file)
where changed_day(f.day) and f.lines_read <> coalesce(a.lines, 0) + coalesce(r.lines, 0)
order by f.day, f.source_file
