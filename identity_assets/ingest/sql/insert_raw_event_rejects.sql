-- The rejected lines of the batch, each with its raw text and reason.
insert into raw_event_rejects by name
select
    day,
    source_file,
    line_number,
    line as raw_line,
    reason,
    detail
from line_outcomes
where reason is not null
