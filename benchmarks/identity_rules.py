"""Identity rules benchmark: quality against the generator's truth, and the cost of a rule change.

Usage:
    python benchmarks/identity_rules.py [--people 4000] [--lines 1000000] [--days 10]

Quality: the sample generator's exports (with its ground truth of who is who) are ingested and
resolved day by day, as daily runs would, once with the rules before per-type limits existed
(placeholders and the sharing guard only) and once with the default rules; then both again
with the sharing guard off, to see what the limits alone hold back. After each day it
scores pairwise precision and recall of `identity_map` against the truth, and prints the final
and the worst daily figures.

Cost: on a warehouse of --lines events over --days days, in one fresh child process, it times a
full rebuild under the default rules, then a re-run after blocking one identifier by hand (a
device in a multi-identifier identity), after lifting the block, and after lowering a limit;
each is compared with the full rebuild (target: under 0.2x). Figures go to benchmarks/out/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

from common import OUT, history_warehouse, measured_child, open_warehouse, write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=4000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(_rule_changes(args)))
        return

    quality = _quality(args.people)
    print(f"\nquality on the sample ({args.people:,} people), resolved day by day")
    header = f"{'rules':<22} {'precision':>9} {'recall':>7} {'worst day precision':>20}"
    print(f"{header} {'refused':>8} {'largest':>8}")
    for name, row in quality.items():
        print(
            f"{name:<22} {row['precision']:>9.4f} {row['recall']:>7.4f} "
            f"{row['worst_daily_precision']:>20.4f} {row['refused_links']:>8,} "
            f"{row['largest_identity']:>8,}"
        )

    _, history = history_warehouse(args.lines, args.days, args.memory_limit)
    database = OUT / "identity-rules.duckdb"
    shutil.copyfile(history, database)
    figures, peak_rss = measured_child(
        [
            sys.executable, __file__, "--step", "rules", "--database", str(database),
            "--memory-limit", args.memory_limit,
        ]
    )  # fmt: skip
    database.unlink(missing_ok=True)
    full = figures["full_rebuild"]["seconds"]
    print(f"\nrule changes on {args.lines:,} lines over {args.days - 1} days of history")
    print(f"{'run':<28} {'seconds':>8} {'re-resolved':>12} {'x rebuild':>10}")
    for name, row in figures.items():
        print(
            f"{name:<28} {row['seconds']:>8.2f} {row['re_resolved']:>12,} "
            f"{row['seconds'] / full:>10.3f}"
        )
    print(f"peak RSS of the child: {peak_rss:,.0f} MB")
    write_report(
        f"identity-rules-{args.lines}",
        {
            "date": date.today().isoformat(),
            "people": args.people,
            "lines": args.lines,
            "days": args.days,
            "memory_limit": args.memory_limit,
            "quality": quality,
            "rule_changes": figures,
            "peak_rss_mb": peak_rss,
        },
    )


def _quality(people: int) -> dict[str, dict]:
    import duckdb

    from identity_assets import sql
    from identity_assets.identity.graph import resolve_identities
    from identity_assets.identity.rules import IdentityRules
    from identity_assets.ingest.core import ingest_day, landed_days
    from identity_assets.sample import SampleConfig, write_sample

    landing = Path(tempfile.mkdtemp(prefix="identity-rules-")) / "landing"
    write_sample(landing, SampleConfig(people=people, days=14, history_days=90))
    results = {}
    try:
        for name, rules in (
            ("before (no limits)", IdentityRules(limits={})),
            ("after (default rules)", IdentityRules()),
            ("no guard, no limits", IdentityRules(limits={}, max_linked=1_000_000)),
            ("no guard, default limits", IdentityRules(max_linked=1_000_000)),
        ):
            conn = duckdb.connect()
            conn.execute(
                "create table truth as select * from read_csv($path)",
                {"path": str(landing / "_truth" / "identifiers.csv")},
            )
            daily = []
            for day in landed_days(landing, date(2000, 1, 1)):
                ingest_day(conn, landing, day)
                resolve_identities(conn, rules)
                conn.execute(
                    "create or replace temp table seen as select distinct identifier_type, "
                    "identifier_value from identifier_sightings"
                )
                daily.append(_score(conn, sql.load("identity/score_against_truth"), seen=True))
            final = _score(conn, sql.load("identity/score_against_truth"))
            refused = conn.execute("select count(*) from identity_refused_links").fetchone()[0]
            largest = conn.execute("select max(identifier_count) from identities").fetchone()[0]
            results[name] = {
                "precision": final[0],
                "recall": final[1],
                "worst_daily_precision": min(p for p, _ in daily),
                "daily": daily,
                "refused_links": refused,
                "largest_identity": largest,
            }
            conn.close()
    finally:
        shutil.rmtree(landing.parent, ignore_errors=True)
    return results


def _score(conn, query: str, seen: bool = False) -> tuple[float, float]:
    """Precision and recall; with `seen`, over the truth identifiers seen so far only."""
    if seen:
        conn.execute(
            "create or replace temp table truth_seen as select t.* from truth as t "
            "inner join seen as s on s.identifier_type = t.identifier_type "
            "and s.identifier_value = t.normalized_value"
        )
        query = query.replace("from truth as t", "from truth_seen as t")
    _, precision, recall = conn.execute(query).fetchall()[0]
    return float(precision or 1.0), float(recall or 1.0)


def _rule_changes(args: argparse.Namespace) -> dict:
    from identity_assets.identity.graph import rebuild_identities, resolve_identities
    from identity_assets.identity.rules import Block, IdentityRules

    conn = open_warehouse(args.database, args.memory_limit)
    rules = IdentityRules()
    figures = {}

    def timed(name: str, run) -> None:
        started = time.perf_counter()
        result = run()
        conn.execute("checkpoint")
        figures[name] = {
            "seconds": time.perf_counter() - started,
            "re_resolved": result.affected_identifiers,
            "merges": result.merges,
            "changes": list(result.rule_changes),
        }

    timed("full_rebuild", lambda: rebuild_identities(conn, rules))
    device = conn.execute(
        "select m.identifier_value from identity_map as m "
        "inner join identities as i using (identity_id) "
        "where m.identifier_type = 'device_id' and i.identifier_count > 3 "
        "order by i.identifier_count desc, m.identifier_value limit 1"
    ).fetchone()[0]
    blocked = replace(rules, blocks=(Block("device_id", device, "benchmark: shared device"),))
    timed("block one device", lambda: resolve_identities(conn, blocked))
    timed("lift the block", lambda: resolve_identities(conn, rules))
    lower = replace(rules, limits={**rules.limits, "anonymous_id": 2})
    timed("anonymous_id limit 25 -> 2", lambda: resolve_identities(conn, lower))
    timed("back to the defaults", lambda: resolve_identities(conn, rules))
    conn.close()
    return figures


if __name__ == "__main__":
    main()
