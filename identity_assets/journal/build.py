"""Journals and profiles: each identity's events and its golden record, kept in step.

The journal follows the identity stage's published placements (`event_placements`) through
the change protocol instead of recomputing: a day the identity stage placed again has its rows
replaced (one SQL statement per day, so memory follows the day, not the history), and the rows
of the identities it logged as changed follow their events' placements. Only the profiles of
the identities those rows touched are refreshed: a profile whose identity only gained the
day's rows has them folded in, and so has the survivor of a whole merge the profiles it
absorbed (decision 0034); one whose identity lost rows or took over part of another's is
rebuilt from its journal (decision 0022). Those identities, and the rows that moved, are
logged for metrics. All the data work is SQL in `sql/`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import duckdb

from identity_assets import changes, sql

_TEMP_TABLES = (
    "journal_changed_days",
    "journal_changed_identities",
    "touched_identities",
    "profile_touched",
    "changed_rows",
    "changed_placements",
    "replaced_placements",
    "followed_rows",
    "profile_rebuilt",
    "changed_day_identities",
    "profile_gains",
    "profile_fold_candidates",
    "profile_folded",
    "profile_members",
    "profile_rows",
    "profile_received",
    "profile_activity",
    "profile_click_ids",
)


# Survivors of whole merges and the identities they absorbed (journal/profile_folds.sql).
_NO_FOLDS = "create or replace temp table profile_folded (identity_id varchar, absorbed_id varchar)"


@dataclass(frozen=True)
class JournalResult:
    """What one journal run did, for logs and materialization metadata."""

    changed_days: int
    changed_identities: int
    rows_inserted: int
    rows_removed: int
    rows_moved: int
    profiles_refreshed: int
    profiles_rebuilt: int
    profiles_folded: int  # survivors of whole merges, folded rather than rebuilt
    seconds: float


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the journal tables if this warehouse does not have them yet."""
    sql.create_tables(conn, "journal")
    sql.create_macros(conn)


def update_journals(
    conn: duckdb.DuckDBPyConnection, log: Callable[[str], None] | None = None
) -> JournalResult:
    """Bring `identity_journal` and `customer_profiles` in step with the identity stage."""
    started = time.perf_counter()
    traits_stored = sql.has_table(conn, "profile_traits")
    click_ids_stored = sql.has_table(conn, "journal_click_ids")
    ensure_tables(conn)
    try:
        if not click_ids_stored:
            _store_click_ids(conn)
        if not traits_stored:
            _store_traits(conn)
        placed = changes.pending(conn, "journal", "event_placements")
        if not placed.any:
            return JournalResult(0, 0, 0, 0, 0, 0, 0, 0, time.perf_counter() - started)
        conn.execute("create or replace temp table profile_rebuilt (identity_id varchar)")
        conn.execute(_NO_FOLDS)
        if placed.first:
            # nothing taken in yet (a new or rebuilt journal): every day is placed again
            conn.execute(
                "create or replace temp table journal_changed_days as "
                "select day from event_placements union select day from identity_journal"
            )
            conn.execute(
                "create or replace temp table journal_changed_identities (identity_id varchar)"
            )
            conn.execute(
                "create or replace temp table touched_identities as "
                "select identity_id from customer_profiles"
            )
        else:
            changes.stage_days(conn, placed, "journal_changed_days")
            changes.stage_identities(conn, placed, "journal_changed_identities")
            conn.execute(
                "create or replace temp table touched_identities as "
                "select identity_id from journal_changed_identities"
            )
        with sql.transaction(conn):
            conn.execute(sql.load("journal/placed_days"))
            days = [
                row[0]
                for row in conn.execute(
                    "select day from journal_changed_days order by day"
                ).fetchall()
            ]
            changed_identities = _count(conn, "journal_changed_identities")
            result = _place_rows(conn, days, changed_identities, log)
            if changed_identities:
                conn.execute(sql.load("journal/profile_folds"))
            if placed.first:
                conn.execute(
                    "insert into profile_rebuilt select identity_id from touched_identities"
                )
            conn.execute(
                "create or replace temp table profile_touched as "
                "select identity_id from touched_identities "
                "union select identity_id from profile_rebuilt"
            )
            conn.execute(sql.load("journal/refresh_profiles"))
            rebuilt, folded = conn.execute(
                "select count(*) filter (where rebuilt), "
                "count(*) filter (where identity_id in (select identity_id from profile_folded)) "
                "from profile_members"
            ).fetchall()[0]
            version = changes.new_version(conn, "identity_journal")
            changes.log_days(conn, version, "select day from journal_changed_days")
            changes.log_identities(conn, version, "select identity_id from profile_touched")
            if changed_identities:
                # the rows that changed identity or left: purchases and the snapshot follow them
                changes.log_rows(
                    conn,
                    version,
                    "select day, event_id, previous_identity_id, identity_id from followed_rows "
                    "where identity_id is distinct from previous_identity_id",
                )
            changes.consume(conn, placed)
            profiles = _count(conn, "profile_touched")
    finally:
        for table in _TEMP_TABLES:
            conn.execute(f"drop table if exists {table}")
    return JournalResult(
        changed_days=len(days),
        changed_identities=changed_identities,
        **result,
        profiles_refreshed=profiles,
        profiles_rebuilt=rebuilt,
        profiles_folded=folded,
        seconds=time.perf_counter() - started,
    )


def forget_journals(conn: duckdb.DuckDBPyConnection) -> None:
    """Empty the journal and profiles and forget what the stage took in: the next
    `update_journals` builds them anew from every placement (a full refresh)."""
    ensure_tables(conn)
    with sql.transaction(conn):
        conn.execute("delete from identity_journal")
        conn.execute("delete from customer_profiles")
        conn.execute("delete from profile_traits")
        conn.execute("delete from journal_click_ids")
        changes.forget(conn, "journal")


def _store_click_ids(conn: duckdb.DuckDBPyConnection) -> None:
    """A journal built before `journal_click_ids` existed has them read once from every day
    it holds; later days add their own when they are placed."""
    days = conn.execute("select distinct day from identity_journal order by day").fetchall()
    with sql.transaction(conn):
        for (day,) in days:
            conn.execute(sql.load("journal/insert_day_click_ids"), {"day": day})


def _store_traits(conn: duckdb.DuckDBPyConnection) -> None:
    """Profiles built before `profile_traits` existed are rebuilt once from their journals,
    which stores their traits: later days fold into them."""
    with sql.transaction(conn):
        conn.execute("create or replace temp table journal_changed_days (day date)")
        conn.execute(
            "create or replace temp table profile_rebuilt as "
            "select identity_id from customer_profiles"
        )
        conn.execute(_NO_FOLDS)
        conn.execute(
            "create or replace temp table profile_touched as "
            "select identity_id from profile_rebuilt"
        )
        conn.execute(sql.load("journal/refresh_profiles"))


def _place_rows(
    conn: duckdb.DuckDBPyConnection,
    days: list[date],
    changed_identities: int,
    log: Callable[[str], None] | None,
) -> dict[str, int]:
    """The journal rows: the changed identities' rows follow their placements, then the
    changed days are placed again whole."""
    before = _count(conn, "identity_journal")
    moved = 0
    if changed_identities:
        conn.execute(sql.load("journal/follow_changed_identities"))
        moved = conn.execute(
            "select count(*) from followed_rows where identity_id <> previous_identity_id"
        ).fetchall()[0][0]
    conn.execute(sql.load("journal/forget_changed_days"))
    after_moves = _count(conn, "identity_journal")
    for number, day in enumerate(days, start=1):
        conn.execute(sql.load("journal/insert_day"), {"day": day})
        conn.execute(sql.load("journal/insert_day_click_ids"), {"day": day})
        if log and (number % 10 == 0 or number == len(days)):
            log(f"journal: {number}/{len(days)} day(s) placed")
    conn.execute(
        "insert into touched_identities select distinct identity_id from identity_journal "
        "where day in (select day from journal_changed_days)"
    )
    return {
        "rows_inserted": _count(conn, "identity_journal") - after_moves,
        "rows_removed": before - after_moves,
        "rows_moved": moved,
    }


def _count(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    return conn.execute(f"select count(*) from {table}").fetchall()[0][0]
