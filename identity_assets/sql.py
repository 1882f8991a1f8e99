"""Loads the SQL files that hold each stage's transforms.

SQL lives in `<stage>/sql/<name>.sql` so it can be read, diffed and later ported to another
engine on its own; values go in as DuckDB parameters (`$day`), never formatted into the text.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources

from identity_assets.text import CLEAN_TEXT_MACRO


@cache
def load(name: str) -> str:
    """Return the text of `identity_assets/<stage>/sql/<table>.sql` for `name` = "stage/table"."""
    stage, _, table = name.partition("/")
    if not stage or not table:
        raise ValueError(f"SQL name must look like 'stage/table', got {name!r}")
    return resources.files("identity_assets").joinpath(stage, "sql", f"{table}.sql").read_text()


def register_macros(conn) -> None:
    """Create the macros the stages' SQL uses (`clean_text`) on this connection."""
    conn.execute(CLEAN_TEXT_MACRO)


def insert_arrow(conn, table: str, rows, *, replace_temp: bool = False) -> None:
    """Write an Arrow table of rows computed in Python into `table` (or a new temp table).

    Arrow is how small Python results (parsed phones, graph labels, model predictions) enter
    DuckDB in one step; row-by-row inserts would be orders of magnitude slower.
    """
    view = f"{table}_arrow"
    conn.register(view, rows)
    try:
        if replace_temp:
            conn.execute(f"create or replace temp table {table} as select * from {view}")
        else:
            conn.execute(f"insert into {table} by name select * from {view}")
    finally:
        conn.unregister(view)


@contextmanager
def transaction(conn) -> Iterator[None]:
    """Run the block as one transaction: committed when it ends, rolled back if it raises."""
    conn.begin()
    try:
        yield
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
