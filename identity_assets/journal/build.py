"""Journals and profiles: each identity's events and its golden record, kept in step.

The journal follows the identity stage instead of recomputing: a day the identity stage
resolved again has its rows replaced (one SQL statement per day, so memory follows the day,
not the history), and the rows of identities whose members moved (`identity_changes`) follow
the identifier that placed them. Profiles are rebuilt for the identities those rows touched
only. All the data work is SQL in `sql/`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import duckdb

from identity_assets import sql

_TEMP_TABLES = (
    "journal_changed_days",
    "journal_changed_identities",
    "touched_identities",
    "profile_touched",
    "changed_rows",
    "replaced_placements",
    "followed_rows",
)


@dataclass(frozen=True)
class JournalResult:
    """What one journal run did, for logs and materialization metadata."""

    changed_days: int
    changed_identities: int
    rows_inserted: int
    rows_removed: int
    rows_moved: int
    profiles_refreshed: int
    seconds: float


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the journal tables if this warehouse does not have them yet."""
    conn.execute(sql.load("journal/create_tables"))


def update_journals(
    conn: duckdb.DuckDBPyConnection, log: Callable[[str], None] | None = None
) -> JournalResult:
    """Bring `identity_journal` and `customer_profiles` in step with the identity tables."""
    started = time.perf_counter()
    ensure_tables(conn)
    try:
        conn.execute(sql.load("journal/changed_days"))
        conn.execute(sql.load("journal/changed_identities"))
        days = [
            day
            for day, removed in conn.execute(
                "select day, removed from journal_changed_days order by day"
            ).fetchall()
            if not removed
        ]
        changed_days = _count(conn, "journal_changed_days")
        changed_identities = _count(conn, "journal_changed_identities")
        with sql.transaction(conn):
            result = _place_rows(conn, days, changed_identities, log)
        with sql.transaction(conn):
            result |= _refresh_profiles(conn)
    finally:
        for table in _TEMP_TABLES:
            conn.execute(f"drop table if exists {table}")
    return JournalResult(
        changed_days=changed_days,
        changed_identities=changed_identities,
        **result,
        seconds=time.perf_counter() - started,
    )


def _place_rows(
    conn: duckdb.DuckDBPyConnection,
    days: list[date],
    changed_identities: int,
    log: Callable[[str], None] | None,
) -> dict[str, int]:
    """First transaction: the journal rows. Profiles follow in a second one, which reads them
    committed; were a run stopped in between, the next run redoes both (progress is marked
    last), so the split loses nothing."""
    before = _count(conn, "identity_journal")
    conn.execute(
        "create or replace temp table touched_identities as "
        "select identity_id from journal_changed_identities"
    )
    conn.execute(sql.load("journal/forget_changed_days"))
    moved = 0
    if changed_identities:
        conn.execute(sql.load("journal/follow_changed_identities"))
        moved = conn.execute(
            "select count(*) from followed_rows where identity_id <> previous_identity_id"
        ).fetchall()[0][0]
    after_moves = _count(conn, "identity_journal")
    for number, day in enumerate(days, start=1):
        conn.execute(sql.load("journal/insert_day"), {"day": day})
        if log and (number % 10 == 0 or number == len(days)):
            log(f"journal: {number}/{len(days)} day(s) placed")
    return {
        "rows_inserted": _count(conn, "identity_journal") - after_moves,
        "rows_removed": before - after_moves,
        "rows_moved": moved,
    }


def _refresh_profiles(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Second transaction: the touched identities' profiles, then the progress mark."""
    conn.execute(sql.load("journal/touch_changed_days"))
    conn.execute(
        "create or replace temp table profile_touched as "
        "select distinct identity_id from touched_identities"
    )
    conn.execute(sql.load("journal/refresh_profiles"))
    conn.execute(sql.load("journal/mark_progress"))
    return {"profiles_refreshed": _count(conn, "profile_touched")}


def _count(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    return conn.execute(f"select count(*) from {table}").fetchall()[0][0]
