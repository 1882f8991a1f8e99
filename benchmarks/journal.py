"""Journal benchmark: building journals and profiles, one new day, and look-ups by email.

Usage:
    python benchmarks/journal.py [--lines 1000000] [--days 10] [--memory-limit 4GB]

It reuses (or builds) a warehouse holding every day but the last, ingested and resolved, copies
it, and then, in one fresh child process on the copy:
  floor        the least a journal costs: copy event_id, occurred_at and payload of raw_events
               into a table;
  full         `update_journals` over the whole history: every journal row and profile;
  day_floor    ingest and resolve the last day (not timed); append its event_id, occurred_at
               and payload to a copy of the floor's table;
  day          `update_journals` again, for the new day;
  look-ups     20 journal and 20 profile look-ups by email (identities chosen at random,
               seeded), each timed on its own; median and worst.
It prints the figures and writes them as JSON to benchmarks/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import time
from datetime import date
from pathlib import Path

from common import OUT, history_warehouse, measured_child, open_warehouse, timed_floor, write_report

FLOOR = """
create or replace table floor as
select event_id, occurred_at, payload from raw_events
"""
LOOKUPS = 20


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
        print(json.dumps(_run(args)))
        return

    landing, history = history_warehouse(args.lines, args.days, args.memory_limit)
    database = OUT / "journal.duckdb"
    shutil.copyfile(history, database)
    command = [
        sys.executable, __file__, "--step", "journal", "--landing", str(landing),
        "--database", str(database), "--memory-limit", args.memory_limit,
    ]  # fmt: skip
    figures, peak_rss = measured_child(command)
    database.unlink(missing_ok=True)

    print(f"\n{args.lines:,} lines, {args.days} days, memory_limit {args.memory_limit}")
    print(f"{'step':<10} {'seconds':>8} {'rows':>12} {'x floor':>8}")
    for step, base in (
        ("floor", "floor"),
        ("full", "floor"),
        ("day_floor", "day_floor"),
        ("day", "day_floor"),
    ):
        row = figures[step]
        ratio = row["seconds"] / figures[base]["seconds"]
        print(f"{step:<10} {row['seconds']:>8.2f} {row['rows']:>12,} {ratio:>8.2f}")
    day_share = figures["day"]["rows"] / figures["full"]["rows"]
    time_share = figures["day"]["seconds"] / figures["full"]["seconds"]
    print(f"new day: {day_share:.1%} of the rows in {time_share:.1%} of the full build's time")
    for kind in ("journal", "profile"):
        row = figures["lookups"][kind]
        print(
            f"{kind} look-up by email: median {row['median_ms']:.1f} ms, "
            f"worst {row['max_ms']:.1f} ms over {LOOKUPS}"
        )
    print(f"peak RSS of the journal process: {peak_rss:,.0f} MB")
    report = {
        "date": date.today().isoformat(),
        "lines": args.lines,
        "days": args.days,
        "memory_limit": args.memory_limit,
        "cpus": os.cpu_count(),
        "steps": figures,
        "peak_rss_mb": peak_rss,
    }
    write_report(f"journal-{args.lines}", report)


def _run(args: argparse.Namespace) -> dict:

    from identity_assets.identity.graph import ensure_tables, resolve_identities
    from identity_assets.ingest.core import ingest_days, landed_days
    from identity_assets.journal.build import update_journals
    from identity_assets.journal.lookup import journal_response, profile_response

    conn = open_warehouse(args.database, args.memory_limit)
    ensure_tables(conn)
    figures: dict[str, dict] = {}

    figures["floor"] = timed_floor(conn, FLOOR)

    started = time.perf_counter()
    result = update_journals(conn)
    conn.execute("checkpoint")
    figures["full"] = {
        "seconds": time.perf_counter() - started,
        "rows": result.rows_inserted,
        "profiles": result.profiles_refreshed,
    }
    _check_complete(conn)

    last_day = landed_days(args.landing, date(2000, 1, 1))[-1]
    list(ingest_days(conn, args.landing, [last_day]))
    resolve_identities(conn)
    conn.execute("checkpoint")
    figures["day_floor"] = _day_floor(conn, last_day)
    started = time.perf_counter()
    result = update_journals(conn)
    conn.execute("checkpoint")
    figures["day"] = {
        "seconds": time.perf_counter() - started,
        "rows": result.rows_inserted,
        "moved": result.rows_moved,
        "profiles": result.profiles_refreshed,
    }
    _check_complete(conn)

    emails = [
        row[0]
        for row in conn.execute(
            "select identifier_value from identity_map where identifier_type = 'email' "
            "order by identifier_value"
        ).fetchall()
    ]
    chosen = random.Random(7).sample(emails, LOOKUPS)
    figures["lookups"] = {
        "journal": _timed(lambda email: journal_response(conn, "email", email), chosen),
        "profile": _timed(
            lambda email: profile_response(
                conn,
                {
                    "identifiers": {"email": email},
                    "attributes": ["email", "name", "surname", "c_plan"],
                    "events": {
                        "start_date": 0,
                        "end_date": 2_000_000_000,
                        "wanted": [
                            {"event_name": "order_completed", "params": ["value", "currency"]},
                            {"event_name": "product_viewed", "params": ["product_id"]},
                        ],
                    },
                },
            ),
            chosen,
        ),
    }
    conn.close()
    return figures


def _check_complete(conn) -> None:
    """Fast figures mean nothing over incomplete tables: every identity must have a profile."""
    identities, profiles = conn.execute(
        "select (select count(*) from identities), (select count(*) from customer_profiles)"
    ).fetchall()[0]
    if identities != profiles:
        raise SystemExit(f"{identities:,} identities but {profiles:,} profiles")


def _day_floor(conn, day: date) -> dict:
    """Appending the new day's event_id, occurred_at and payload to the floor's table."""
    conn.execute(FLOOR + " where day <> $day", {"day": day})
    conn.execute("checkpoint")
    started = time.perf_counter()
    conn.execute(
        "insert into floor select event_id, occurred_at, payload from raw_events where day = $day",
        {"day": day},
    )
    conn.execute("checkpoint")
    seconds = time.perf_counter() - started
    rows = conn.execute("select count(*) from raw_events where day = $day", {"day": day}).fetchall()
    conn.execute("drop table floor")
    conn.execute("checkpoint")
    return {"seconds": seconds, "rows": rows[0][0]}


def _timed(lookup, emails: list[str]) -> dict:
    timings = []
    for email in emails:
        started = time.perf_counter()
        status, _ = lookup(email)
        timings.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise SystemExit(f"look-up of {email} answered {status}")
    return {"median_ms": statistics.median(timings), "max_ms": max(timings)}


if __name__ == "__main__":
    main()
