"""Backtest of the 90-day value: every candidate, the one the stage chose, the seed's formula.

Usage:
    python benchmarks/backtest.py [--people 4000] [--seed 7]

Two data sets, each cut 90 days before its end, fitted on the part before and scored on the
90 days after (MAE, RMSE, Spearman rank correlation, total predicted vs actual spend). The
stage chooses its model by its own backtest on the 90 days before the cut; the table shows
what it wrote (`chosen: ...`), each candidate fitted on the same history (the chosen one
marked `*`), and the seed's formula:
  sample   the sample generator's exports (a year of history, buyers with different habits),
           run through ingest, identity resolution and journals first;
  CDNOW    the public CDNOW transactions (23,570 customers, 1997-1998) shipped in the
           `lifetimes` wheel, loaded as journal rows of one purchase event each.
Then how high Spearman can go on that holdout (`rank_ceilings`: oracles, repeat purchase days
with and without their ties, and each count model scored against spend drawn from itself).
The figures are written as JSON to benchmarks/out/backtest.json.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from datetime import date
from pathlib import Path

import duckdb

from identity_assets.metrics.backtest import backtest, rank_ceilings
from identity_assets.metrics.rules import ValueRules
from identity_assets.metrics.selection import Candidates

OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    report = {"date": date.today().isoformat()}
    for name, load in (("sample", lambda c: _load_sample(c, args)), ("CDNOW", _load_cdnow)):
        conn = duckdb.connect()
        conn.execute("set enable_progress_bar = false")
        started = time.perf_counter()
        load(conn)
        loaded = time.perf_counter() - started
        result, scores = backtest(conn)
        print(
            f"\n{name}: cut at {result.as_of:%Y-%m-%d}, {result.buyers:,} buyers before it "
            f"(loaded in {loaded:.0f}s, fitted in {result.seconds:.1f}s)"
        )
        fit = result.fit
        print(
            f"  chosen {fit.chosen or 'none'} (backtest cut {fit.backtest_cut}, scaled by "
            f"{fit.calibration:.3f}){': ' + fit.unfitted_reason if fit.unfitted_reason else ''}"
        )
        print(f"  stage's backtest: {_backtest_rows(fit.candidates)}")
        print(f"  BG/NBD {_rounded(fit.bg_nbd)}; Pareto/NBD {_rounded(fit.pareto_nbd)}")
        for currency, params in fit.gamma_gamma.items():
            print(f"  Gamma-Gamma {currency} {_rounded(params)}")
        print(
            f"  {'method':<32} {'MAE':>8} {'RMSE':>8} {'Spearman':>9} "
            f"{'predicted':>11} {'actual':>11} {'total':>7}"
        )
        for s in scores:
            mark = " *" if s.method == fit.chosen else ""
            print(
                f"  {s.method + mark:<32} {s.mae:>8.2f} {s.rmse:>8.2f} {s.spearman:>9.3f} "
                f"{s.predicted_total:>11,.0f} {s.actual_total:>11,.0f} {s.total_error:>+7.1%}"
            )
        ceilings = rank_ceilings(Candidates(conn, ValueRules()), result.as_of)
        print(
            f"  Spearman ceilings: who buys (ties kept) {ceilings.who_buys:.3f}; buyers in "
            f"order, every value distinct {ceilings.strict:.3f}; repeat purchase days "
            f"{ceilings.repeat_days:.3f}, their ties broken by BG/NBD "
            f"{ceilings.repeat_days_strict:.3f}; each count model against spend drawn from "
            f"itself: " + ", ".join(f"{k} {v:.3f}" for k, v in ceilings.model_world.items())
        )
        report[name] = {
            "cutoff": result.as_of.isoformat(),
            "buyers": result.buyers,
            "seconds": result.seconds,
            "chosen": fit.chosen,
            "fit": asdict(fit),
            "scores": [asdict(s) | {"chosen": s.method == fit.chosen} for s in scores],
            "rank_ceilings": asdict(ceilings),
        }
        conn.close()
    path = OUT / "backtest.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nfigures written to {path}")


def _backtest_rows(rows: list[dict]) -> str:
    return "; ".join(
        f"{r['candidate']} "
        + (
            f"MAE {r['mae']:.2f} Spearman {r['spearman']:.3f} "
            f"total {r['predicted_total'] / r['actual_total'] - 1:+.1%}"
            if r["mae"] is not None
            else ""
        )
        + (f" [{r['status']}]" if r["status"] else "")
        for r in rows
    )


def _rounded(params: dict[str, float] | None) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in (params or {}).items()) or "not fitted"


def _load_sample(conn: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> None:
    from identity_assets.identity.graph import resolve_identities
    from identity_assets.ingest.core import ingest_days, landed_days
    from identity_assets.journal.build import update_journals
    from identity_assets.sample import SampleConfig, write_sample

    landing = OUT / f"backtest-sample-{args.people}-{args.seed}"
    if not (landing / "_truth").exists():
        write_sample(landing, SampleConfig(people=args.people, seed=args.seed))
    list(ingest_days(conn, landing, landed_days(landing, date(2000, 1, 1))))
    resolve_identities(conn)
    update_journals(conn)


def _load_cdnow(conn: duckdb.DuckDBPyConnection) -> None:
    """CDNOW purchases as Segment `Order Completed` journal rows, one identity per customer."""
    import lifetimes

    from identity_assets import sql

    path = Path(lifetimes.__file__).parent / "datasets" / "CDNOW_master.txt"
    conn.execute(sql.load("identity/create_tables"))
    conn.execute(sql.load("journal/create_tables"))
    # columns are padded with a varying number of spaces: split each line on whitespace
    conn.execute(
        "create temp table cdnow as "
        "select parts[1] as customer_id, parts[2] as date, parts[4]::double as dollar_value "
        "from (select string_split_regex(trim(line), '\\s+') as parts from read_csv($path, "
        "header = true, delim = '\t', columns = {'line': 'varchar'}))",
        {"path": str(path)},
    )
    conn.execute(
        "insert into identity_journal by name "
        "select 'cdnow-' || customer_id as identity_id, "
        "'cdnow-' || row_number() over () as event_id, "
        "strptime(date, '%Y%m%d') + interval 12 hour as occurred_at, "
        "json_object('type', 'track', 'event', 'Order Completed', 'properties', "
        "json_object('value', dollar_value, 'currency', 'USD')) as payload, "
        "strptime(date, '%Y%m%d')::date as day, 'segment' as source, 'track' as kind, "
        "'Order Completed' as event_name, 0 as identifier_key from cdnow"
    )
    conn.execute(
        "insert into identities by name select identity_id, min(occurred_at) as first_seen, "
        "max(occurred_at) as last_seen, 1 as identifier_count, count(*) as event_count, "
        "'user_id' as anchor_type, identity_id as anchor_value "
        "from identity_journal group by identity_id"
    )


if __name__ == "__main__":
    main()
