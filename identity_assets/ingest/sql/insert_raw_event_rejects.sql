-- The rejected lines of the batch, each with its raw text and reason.
insert into raw_event_rejects by name
select
    o.day,
    o.source_file,
    o.line_number,
    u.line as raw_line,
    o.reason,
    o.detail
from line_outcomes as o
inner join landed_lines_unnumbered as u on u.rowid = o.rid
where o.reason is not null
