-- The text of every line of the batch's files, from `landed_line_batches`: the Arrow stream
-- ingest/lines.py reads, where only '\n' (with one '\r' before it) ends a line, each line comes
-- with its ending and its length without it, and each file's lines are numbered from 1.
-- decode() fails on a line that is not UTF-8. A blank line's text is null.
create or replace temp table landed_lines_unnumbered as
select path::varchar as path, line_number, nullif(decode(line[1:length]), '') as line
from landed_line_batches
