"""Loads the SQL files that hold each stage's transforms.

SQL lives in `<stage>/sql/<name>.sql` so it can be read, diffed and later ported to another
engine on its own; values go in as DuckDB parameters (`$day`), never formatted into the text.
"""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources

import duckdb

from identity_assets.text import CLEAN_TEXT_MACRO


@cache
def load(name: str) -> str:
    """Return the text of `identity_assets/<stage>/sql/<table>.sql` for `name` = "stage/table"."""
    stage, _, table = name.partition("/")
    if not stage or not table:
        raise ValueError(f"SQL name must look like 'stage/table', got {name!r}")
    return resources.files("identity_assets").joinpath(stage, "sql", f"{table}.sql").read_text()


def create_tables(conn, stage: str) -> None:
    """Run `<stage>/create_tables.sql` unless this warehouse already ran this very text.

    The file's DDL rewrites catalog comments and its migrations of older warehouses scan
    tables: run on every stage call it cost 0.2-1.5 s a stage on a 1M-event warehouse. The
    digest of each stage's file is kept in `table_definitions` once it has run, so a changed
    file (a new column, a migration) runs again.
    """
    text = load(f"{stage}/create_tables")
    digest = hashlib.sha256(text.encode()).hexdigest()
    conn.execute(
        "create table if not exists table_definitions "
        "(stage varchar not null, digest varchar not null)"
    )
    applied = conn.execute(
        "select digest from table_definitions where stage = ?", [stage]
    ).fetchall()
    if applied == [(digest,)]:
        return
    conn.execute(text)
    conn.execute("delete from table_definitions where stage = ?", [stage])
    conn.execute("insert into table_definitions values (?, ?)", [stage, digest])


def has_table(conn, table: str) -> bool:
    """Whether the warehouse holds `table`: stages that add a table fill it once from what an
    older warehouse already has."""
    return bool(
        conn.execute(
            "select count(*) from duckdb_tables() where database_name = current_database() "
            "and schema_name = 'main' and table_name = ?",
            [table],
        ).fetchall()[0][0]
    )


def insert_arrow(conn, table: str, rows, *, replace_temp: bool = False) -> None:
    """Write an Arrow table of rows computed in Python into `table` (or a new temp table).

    Arrow is how small Python results (parsed phones, graph labels, model predictions) enter
    DuckDB in one step; row-by-row inserts would be orders of magnitude slower.
    """
    view = f"{table}_arrow"
    with registered(conn, view, rows):
        if replace_temp:
            conn.execute(f"create or replace temp table {table} as select * from {view}")
        else:
            conn.execute(f"insert into {table} by name select * from {view}")


@contextmanager
def registered(conn, name: str, rows) -> Iterator[None]:
    """Arrow rows readable as the view `name` on `conn` for the block: values that reach
    DuckDB without becoming a list parameter (binding 120,000 strings cost tenths of a second
    in every query that took them)."""
    conn.register(name, rows)
    try:
        yield
    finally:
        conn.unregister(name)


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


@contextmanager
def empty_warehouse() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB holding every stage's tables as its `create_tables.sql` makes them,
    empty: what column schemas are read from and segment conditions are compiled against.

    ~60 ms for all stages, plus ~30 ms when it is the process's first DuckDB connection. One
    transaction: a commit per statement makes it a third slower.
    """
    with duckdb.connect() as conn:
        with transaction(conn):
            for stage in _stages_with_tables():
                conn.execute(load(f"{stage}/create_tables"))
        yield conn


def _stages_with_tables() -> list[str]:
    package = resources.files("identity_assets")
    return sorted(
        entry.name
        for entry in package.iterdir()
        if entry.joinpath("sql", "create_tables.sql").is_file()
    )


def create_macros(conn) -> None:
    """Create on `conn` the macros of rules several stages apply: `clean_text`, built from
    `identity_assets.text`'s character table, and those of `shared/sql/macros.sql`."""
    conn.execute(CLEAN_TEXT_MACRO)
    conn.execute(load("shared/macros"))
