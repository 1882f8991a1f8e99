"""Segment membership: who is in each configured segment, and since when.

Membership is recomputed whole from the metrics each run, so a run brings it up to date
whatever earlier runs did; a membership that continues keeps its `since`. What changed is
queued by the outbox (`outbox.queue_updates`) in a later step, once membership passed its check.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from identity_assets import sql
from identity_assets.segments.rules import SegmentRule, compile_conditions


def update_membership(
    conn: duckdb.DuckDBPyConnection, segments: tuple[SegmentRule, ...]
) -> dict[str, int]:
    """Recompute `segment_membership` in one transaction; return each segment's size.

    The conditions are compiled apart first, where they cannot read files (`rules`)."""
    compile_conditions(segments)
    sql.create_tables(conn, "segments")
    now = datetime.now(UTC).replace(tzinfo=None)
    conn.execute(
        "create or replace temp table new_membership (identity_id varchar, segment varchar)"
    )
    try:
        with sql.transaction(conn):
            for segment in segments:
                query = sql.load("segments/segment_members").replace("{where}", segment.where)
                try:
                    conn.execute(query, {"segment": segment.name})
                except duckdb.Error as error:
                    raise ValueError(
                        f"segment {segment.name!r}: its condition {segment.where!r} does not run: "
                        f"{error}"
                    ) from error
            conn.execute(sql.load("segments/refresh_membership"), {"now": now})
            conn.execute(sql.load("segments/swap_membership"))
            members = conn.execute(
                "select segment, count(*) from segment_membership group by 1 order by 1"
            ).fetchall()
    finally:
        conn.execute("drop table if exists new_membership")
        conn.execute("drop table if exists next_membership")
    return {segment.name: 0 for segment in segments} | dict(members)
