-- Every line of the day's files as one VARCHAR, in file order.
-- read_csv with a delimiter that cannot occur and quoting off hands each line over whole and
-- decompresses .gz by extension; new_line '\r\n' also splits plain '\n', so CRLF files keep
-- their line numbers. Insertion order is preserved, so rowid follows the files' line order.
select filename as path, line
from read_csv(
    $files,
    columns = {'line': 'varchar'},
    delim = chr(1) || chr(2) || chr(3) || chr(4),
    quote = '',
    escape = '',
    header = false,
    auto_detect = false,
    filename = true,
    strict_mode = false,
    new_line = '\r\n',
    max_line_size = 16777216,  -- 16 MiB: a longer line fails its file with a clear error
    buffer_size = 67108864
)
