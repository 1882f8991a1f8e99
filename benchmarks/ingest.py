"""Ingest benchmark: our raw_events ingest against DuckDB's own floor on the same files.

Usage:
    python benchmarks/ingest.py [--lines 1000000] [--days 10] [--memory-limit 2GB]

It writes sample exports of about --lines lines (gzip JSON lines, spread over --days daily
folders), then times, each in a fresh process with its own DuckDB file:
  floor        `create table ... as select * from read_json_auto(all files)`: DuckDB reading
               the same files into a table, the least any ingest can cost;
  ingest       `ingest_days` over every day: parse, judge, reject, write raw_events;
  ingest_half  `ingest_days` over the first half of the days, to show that peak memory
               follows the batch, not the number of days.
For each it prints seconds, lines/s, the ratio to the floor and the peak RSS, and writes the
figures as JSON to benchmarks/out/ so runs can be compared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

from common import OUT, generate_landing, measured_child


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--memory-limit", default="2GB", help="DuckDB memory_limit per phase")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--landing", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        _run_phase(args)
        return

    landing, lines = generate_landing(args.lines, args.days)
    results = {}
    for phase in ("floor", "ingest", "ingest_half"):
        results[phase] = _measure(phase, landing, args)
    floor = results["floor"]["seconds"]
    print(
        f"\n{lines:,} lines in {args.days} daily folders, memory_limit {args.memory_limit}, "
        f"{args.threads} threads, {platform.processor() or platform.machine()}"
    )
    print(f"{'phase':<12} {'seconds':>8} {'lines/s':>10} {'x floor':>8} {'peak RSS':>10}")
    for phase, figures in results.items():
        rate = figures["lines"] / figures["seconds"] if figures["seconds"] else 0
        print(
            f"{phase:<12} {figures['seconds']:>8.2f} {rate:>10,.0f} "
            f"{figures['seconds'] / floor:>8.2f} {figures['peak_rss_mb']:>8,.0f} MB"
        )
    report = {
        "date": date.today().isoformat(),
        "lines": lines,
        "days": args.days,
        "memory_limit": args.memory_limit,
        "threads": args.threads,
        "cpus": os.cpu_count(),
        "phases": results,
    }
    OUT.mkdir(exist_ok=True)
    path = OUT / f"ingest-{args.lines}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nfigures written to {path}")


def _measure(phase: str, landing: Path, args: argparse.Namespace) -> dict:
    """Run one phase in a child process and read its time and peak RSS from the kernel."""
    database = OUT / f"{phase}.duckdb"
    for stale in (database, database.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    command = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--landing",
        str(landing),
        "--database",
        str(database),
        "--memory-limit",
        args.memory_limit,
        "--threads",
        str(args.threads),
    ]
    figures, peak_rss_mb = measured_child(command)
    figures["peak_rss_mb"] = peak_rss_mb
    database.unlink(missing_ok=True)
    return figures


def _run_phase(args: argparse.Namespace) -> None:
    import duckdb

    from identity_assets.ingest.core import day_files, ingest_days, landed_days

    conn = duckdb.connect(
        str(args.database), config={"memory_limit": args.memory_limit, "threads": args.threads}
    )
    conn.execute("set enable_progress_bar = false")
    days = landed_days(args.landing, date(2000, 1, 1))
    started = time.perf_counter()
    if args.phase == "floor":
        files = [str(p) for d in days for p in day_files(args.landing, d)[0]]
        conn.execute(
            "create table floor as select * from read_json_auto($files, "
            "format = 'newline_delimited', ignore_errors = true)",
            {"files": files},
        )
        lines = conn.execute("select count(*) from floor").fetchone()[0]
    else:
        chosen = days if args.phase == "ingest" else days[: max(1, len(days) // 2)]
        lines = sum(b.lines_read for b in ingest_days(conn, args.landing, chosen))
    conn.close()
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "lines": lines}))


if __name__ == "__main__":
    main()
