-- Name files relative to the landing directory and take the day from the file's folder:
-- `<day>/<name>`. rid (the line's rowid in landed_lines_unnumbered)
-- identifies a line in every later step; its text stays there, read by rid where needed.
create or replace temp table landed_lines as
select
    rowid as rid,
    cast(split_part(substr(path, length($landing_prefix) + 1), '/', 1) as date) as day,
    substr(path, length($landing_prefix) + 1) as source_file,
    line_number
from landed_lines_unnumbered
