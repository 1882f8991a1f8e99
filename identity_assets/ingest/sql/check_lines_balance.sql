-- Files whose lines read differ from the accepted plus rejected lines stored for them.
-- Zero rows means the rule holds: no line was dropped or stored twice.
with accepted as (
    select source_file, count(distinct line_number) as lines
    from raw_events
    group by source_file
),

rejected as (
    select source_file, count(*) as lines
    from raw_event_rejects
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
where f.lines_read <> coalesce(a.lines, 0) + coalesce(r.lines, 0)
order by f.day, f.source_file
