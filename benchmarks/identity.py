"""Identity benchmark: a full build and a one-day incremental update against DuckDB's floor.

Usage:
    python benchmarks/identity.py [--lines 1000000] [--days 10] [--memory-limit 4GB]

It writes sample exports (gzip JSON lines over --days folders), ingests all days but the last
into a DuckDB file (setup, not timed here), then, in one fresh child process on that file:
  floor        the least the stage can cost: read the identifier columns of raw_events and
               write them, one row per identifier, into a table;
  full         `rebuild_identities`: every identifier normalised, guarded and resolved;
  incremental  ingest the last day, then `resolve_identities` on top of that history.
It prints seconds, rows, the ratio to the floor and the child's peak RSS, and writes the
figures as JSON to benchmarks/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

from common import OUT, generate_landing, measured_child, open_warehouse, timed_floor, write_report

FLOOR = """
create or replace table floor as
select event_id, 'user_id' as identifier_type, user_id as identifier_value
from raw_events where user_id is not null
union all select event_id, 'anonymous_id', anonymous_id from raw_events
where anonymous_id is not null
union all select event_id, 'anonymous_id', previous_id from raw_events
where previous_id is not null
union all select event_id, 'email', lower(trim(email)) from raw_events where email is not null
union all select event_id, 'phone', phone from raw_events where phone is not null
union all select event_id, 'device_id', device_id from raw_events where device_id is not null
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--landing", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(_run_step(args)))
        return

    landing, lines = generate_landing(args.lines, args.days)
    database = OUT / "identity.duckdb"
    for stale in (database, database.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    common = [
        "--landing", str(landing), "--database", str(database),
        "--memory-limit", args.memory_limit,
    ]  # fmt: skip
    setup, setup_rss = measured_child([sys.executable, __file__, "--step", "setup", *common])
    print(f"setup: ingested {setup['events']:,} events in {setup['seconds']:.1f}s")
    figures, peak_rss = measured_child([sys.executable, __file__, "--step", "identity", *common])
    database.unlink(missing_ok=True)

    floor = figures["floor"]["seconds"]
    print(f"\n{lines:,} lines, {args.days} days, memory_limit {args.memory_limit}")
    print(f"{'step':<12} {'seconds':>8} {'rows':>12} {'x floor':>8}")
    for step in ("floor", "full", "incremental"):
        row = figures[step]
        print(
            f"{step:<12} {row['seconds']:>8.2f} {row['rows']:>12,} {row['seconds'] / floor:>8.2f}"
        )
    ratio = figures["incremental"]["seconds"] / figures["full"]["seconds"]
    print(f"incremental / full: {ratio:.2f}   peak RSS of the identity process: {peak_rss:,.0f} MB")
    report = {
        "date": date.today().isoformat(),
        "lines": lines,
        "days": args.days,
        "memory_limit": args.memory_limit,
        "cpus": os.cpu_count(),
        "setup": setup,
        "steps": figures,
        "peak_rss_mb": peak_rss,
    }
    write_report(f"identity-{args.lines}", report)


def _run_step(args: argparse.Namespace) -> dict:

    from identity_assets.identity.graph import rebuild_identities, resolve_identities
    from identity_assets.ingest.core import ingest_days, landed_days

    conn = open_warehouse(args.database, args.memory_limit)
    days = landed_days(args.landing, date(2000, 1, 1))
    if args.step == "setup":
        started = time.perf_counter()
        events = sum(b.events_accepted for b in ingest_days(conn, args.landing, days[:-1]))
        conn.close()
        return {"seconds": time.perf_counter() - started, "events": events}

    figures = {}
    figures["floor"] = timed_floor(conn, FLOOR)

    started = time.perf_counter()
    result = rebuild_identities(conn)
    conn.execute("checkpoint")
    figures["full"] = {
        "seconds": time.perf_counter() - started,
        "rows": result.touched_identifiers,
        "identities": result.components,
    }

    list(ingest_days(conn, args.landing, days[-1:]))
    started = time.perf_counter()
    result = resolve_identities(conn)
    conn.execute("checkpoint")
    figures["incremental"] = {
        "seconds": time.perf_counter() - started,
        "rows": result.affected_identifiers,
        "touched": result.touched_identifiers,
        "merges": result.merges,
    }
    conn.close()
    return figures


if __name__ == "__main__":
    main()
