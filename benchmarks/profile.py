"""Where a full build spends its time: seconds per SQL file, per stage, at a given scale.

Usage:
    python benchmarks/profile.py [--lines 1000000] [--days 10] [--memory-limit 3GB]

It runs every stage's plain function (the same ones the assets call) over the sample landing
folder into a fresh warehouse, in one process, through a connection that times each statement
and names it by the SQL file it came from (`stage/name`), or by its first words when it is
written inline. Time a stage spends outside DuckDB (graph arrays, phone parsing, model fits,
Python glue) is its own line. It prints the top statements of each stage with their share of
the stage, and writes every figure as JSON to benchmarks/out/profile-<lines>.json.
"""

from __future__ import annotations

import argparse
import re
import time
from collections import defaultdict
from datetime import date
from importlib import resources
from pathlib import Path

from common import OUT, generate_landing, open_warehouse, write_report

SHOWN = 8


class TimedConnection:
    """A DuckDB connection that adds each statement's seconds to the current stage."""

    def __init__(self, conn, names: dict[str, str]):
        self._conn = conn
        self._names = names
        self.stage = "setup"
        self.seconds: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.calls: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def execute(self, query, parameters=None):
        return self._timed(self._label(query), self._conn.execute, query, parameters)

    def executemany(self, query, parameters=None):
        return self._timed(self._label(query), self._conn.executemany, query, parameters)

    def commit(self):
        return self._timed("commit", self._conn.commit)

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def _timed(self, label, method, *args):
        started = time.perf_counter()
        try:
            return method(*(a for a in args if a is not None))
        finally:
            self.seconds[self.stage][label] += time.perf_counter() - started
            self.calls[self.stage][label] += 1

    def _label(self, query: str) -> str:
        name = self._names.get(query)
        if name:
            return name
        # a file's text wrapped in a statement (`create ... as <file>`) still carries its name
        for text, name in self._names.items():
            if query.endswith(text):
                return name
        words = " ".join(re.sub(r"--[^\n]*", "", query).split())
        return words[:60]


def sql_file_names() -> dict[str, str]:
    """The text of every SQL file of the package, mapped to its `stage/name`."""
    from identity_assets import sql

    names = {}
    package = resources.files("identity_assets")
    for stage in package.iterdir():
        folder = stage.joinpath("sql")
        if not folder.is_dir():
            continue
        for file in folder.iterdir():
            if file.name.endswith(".sql"):
                name = f"{stage.name}/{file.name[:-4]}"
                names[sql.load(name)] = name
    return names


def profile(landing: Path, database: Path, memory_limit: str) -> dict:
    from identity_assets.identity.graph import resolve_identities
    from identity_assets.ingest.core import ingest_days, landed_days
    from identity_assets.journal.build import update_journals
    from identity_assets.metrics.value import update_values
    from identity_assets.resources import IdentifierApi, SegmentRulesResource
    from identity_assets.segments.membership import update_membership
    from identity_assets.segments.outbox import queue_updates

    conn = TimedConnection(open_warehouse(database, memory_limit), sql_file_names())
    platform = IdentifierApi().platform
    stages = {
        "ingest": lambda: list(ingest_days(conn, landing, landed_days(landing, date(2000, 1, 1)))),
        "identity": lambda: resolve_identities(conn),
        "journal": lambda: update_journals(conn),
        "metrics": lambda: update_values(conn),
        "segments": lambda: (
            update_membership(conn, SegmentRulesResource().segments()),
            queue_updates(conn, platform),
        ),
    }
    report = {}
    for stage, run in stages.items():
        conn.stage = stage
        started = time.perf_counter()
        run()
        conn.execute("checkpoint")
        total = time.perf_counter() - started
        statements = dict(conn.seconds[stage])
        statements["(outside SQL)"] = total - sum(statements.values())
        report[stage] = {
            "seconds": round(total, 2),
            "statements": {
                label: {"seconds": round(seconds, 3), "calls": conn.calls[stage].get(label, 0)}
                for label, seconds in sorted(statements.items(), key=lambda kv: -kv[1])
            },
        }
        print(f"\n{stage}: {total:.1f} s")
        for label, row in list(report[stage]["statements"].items())[:SHOWN]:
            share = row["seconds"] / total if total else 0
            print(f"  {row['seconds']:8.2f} s {share:6.1%}  {row['calls']:>4}x  {label}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--memory-limit", default="3GB")
    args = parser.parse_args()

    landing, lines = generate_landing(args.lines, args.days)
    database = OUT / f"profile-{args.lines}.duckdb"
    database.unlink(missing_ok=True)
    try:
        stages = profile(landing, database, args.memory_limit)
    finally:
        database.unlink(missing_ok=True)
    total = sum(stage["seconds"] for stage in stages.values())
    print(f"\nall stages: {total:.1f} s for {lines:,} lines, memory_limit {args.memory_limit}")
    write_report(
        f"profile-{args.lines}",
        {
            "date": date.today().isoformat(),
            "lines": lines,
            "days": args.days,
            "memory_limit": args.memory_limit,
            "seconds": round(total, 2),
            "stages": stages,
        },
    )


if __name__ == "__main__":
    main()
