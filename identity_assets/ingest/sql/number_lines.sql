-- Number each file's lines from 1, name files relative to the landing directory and take the
-- day from the file's folder: `<day>/<name>`.
create or replace temp table landed_lines as
select
    cast(split_part(substr(path, length($landing_prefix) + 1), '/', 1) as date) as day,
    substr(path, length($landing_prefix) + 1) as source_file,
    row_number() over (partition by path order by rowid) as line_number,
    line
from landed_lines_unnumbered
