"""Compaction: the warehouse's row groups merged and its deleted rows dropped, weekly.

DuckDB merges row groups while it checkpoints: a day's rows arrive as a row group of their
own, and each checkpoint folds the partly filled row groups at a table's end into fuller ones,
rewriting them whole, and rewrites a row group that lost enough rows to deletes. That work
follows the tables' layout, not the day: on the same new day it was 0.4 s of checkpoint on the
1M history and 1.6-2.3 s on the 3M one (decision 0035). So a daily run's connections merge
nothing (`DAILY_VACUUM_TASKS`): a checkpoint writes the day's row groups and the columns the
day changed. The weekly compaction (`compact`) does the merging once, for every table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import duckdb

# DuckDB's `max_vacuum_tasks`: how many merges of row groups a checkpoint may schedule.
DAILY_VACUUM_TASKS = 0
COMPACTION_VACUUM_TASKS = 100  # DuckDB's own default


@dataclass(frozen=True)
class Layout:
    """How the warehouse's tables are stored."""

    row_groups: int
    deleted_rows: int  # rows still stored in row groups but deleted
    used_bytes: int


@dataclass(frozen=True)
class Compaction:
    before: Layout
    after: Layout
    seconds: float


def merge_nothing(conn: duckdb.DuckDBPyConnection) -> None:
    """Make the checkpoints of `conn`'s database write what changed and merge no row groups."""
    conn.execute(f"set max_vacuum_tasks = {DAILY_VACUUM_TASKS}")


def compact(conn: duckdb.DuckDBPyConnection) -> Compaction:
    """Checkpoint with merging on: partly filled neighbouring row groups become full ones and
    deleted rows are dropped, in every table. Merging is off again afterwards."""
    before = layout(conn)
    started = time.perf_counter()
    conn.execute(f"set max_vacuum_tasks = {COMPACTION_VACUUM_TASKS}")
    try:
        # checkpoint even when nothing is in the WAL (this database stays forced until closed)
        conn.execute("pragma force_checkpoint")
        conn.execute("checkpoint")
    finally:
        merge_nothing(conn)
    seconds = time.perf_counter() - started
    return Compaction(before, layout(conn), seconds)


def layout(conn: duckdb.DuckDBPyConnection) -> Layout:
    """Row groups and deleted rows over the warehouse's tables, and the bytes its blocks use
    (0.3 s at 10M events: storage metadata and row counts only)."""
    tables = [
        name
        for (name,) in conn.execute(
            "select table_name from duckdb_tables() where database_name = current_database()"
        ).fetchall()
    ]
    row_groups = deleted = 0
    for table in tables:
        groups, stored = conn.execute(
            'select count(distinct row_group_id), coalesce(sum("count"), 0) '
            "from pragma_storage_info($table) where column_path = '[0]'",
            {"table": table},
        ).fetchall()[0]
        (live,) = conn.execute(f'select count(*) from "{table}"').fetchall()[0]
        row_groups += groups
        deleted += stored - live
    block_size, used_blocks = conn.execute(
        "select block_size, used_blocks from pragma_database_size() "
        "where database_name = current_database()"
    ).fetchall()[0]
    return Layout(row_groups, deleted, block_size * used_blocks)
