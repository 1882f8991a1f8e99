"""End-to-end benchmark: the whole pipeline through the CLI, stage by stage, against floors.

Usage:
    python benchmarks/pipeline.py [--lines 1000000] [--days 30] [--memory-limit 3GB]

It writes (or reuses) sample exports of about --lines lines, gzip JSON lines over --days
folders, then:
  floor        DuckDB reading the same raw files into a table once (`read_json_auto`);
  full         `identity-assets run` over every day but the last: one run over the range;
  incremental  `identity-assets run --day <last day>` on top of that history, once the full
               build's writes are on disk (`os.sync`);
  quiet day    `identity-assets run --day <the day after>` with 100 new events landed that day
               (the last day's first Segment lines under new message ids): what a run costs on
               this history when the day holds next to nothing;
  stage floors on the resulting warehouse: the identity floor (the identifier columns of
               raw_events written one row per identifier) and the journal floor (event_id,
               occurred_at and payload copied into a table).
Per stage it prints seconds (from the run's step events), rows, rows/s, peak RSS (the CLI
process sampled while the stage ran) and the ratio to its floor. Segment updates are queued
but not delivered (no token): delivery is bound by the API's rate limit, and
benchmarks/delivery.py measures it. Figures go to benchmarks/out/pipeline-<lines>.json,
with -<memory limit> added when it is not 3GB.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

import psutil
from common import (
    OUT,
    dagster_home,
    generate_landing,
    measured_child,
    open_warehouse,
    said,
    settle,
    write_report,
)
from identity import FLOOR as IDENTITY_FLOOR
from journal import FLOOR as JOURNAL_FLOOR

CLI = Path(sys.executable).with_name("identity-assets")
STAGES = {
    "ingest_landed_days": "ingest",
    "resolve_identity_graph": "identity",
    "build_journals": "journal",
    "value_customers": "metrics",
    "segment_membership": "segments",
    "segment_updates": "segments",
    "serving_snapshot": "serving",
}
ROWS = {
    "ingest": "select count(*) from raw_events",
    "identity": "select count(*) from identifier_sightings",
    "journal": "select count(*) from identity_journal",
    "metrics": "select count(*) from customer_metrics",
    "segments": "select count(*) from segment_updates",
    "serving": "select count(*) from identity_journal",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--memory-limit", default="3GB")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--landing", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(_child_step(args)))
        return

    landing, lines = generate_landing(args.lines, args.days)
    days = sorted(p.name for p in landing.iterdir() if p.name[:1].isdigit())
    report: dict = {
        "date": date.today().isoformat(),
        "lines": lines,
        "days": len(days),
        "memory_limit": args.memory_limit,
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory(dir=OUT) as scratch:
        work = Path(scratch)
        common = ["--landing", str(landing), "--memory-limit", args.memory_limit]
        floor, floor_rss = measured_child(
            [sys.executable, __file__, "--step", "floor", "--database", str(work / "floor.duckdb"),
             *common]
        )  # fmt: skip
        report["floor"] = {**floor, "peak_rss_mb": floor_rss}
        print(f"floor: read {floor['rows']:,} lines into a table in {floor['seconds']:.1f}s")
        env = {
            **os.environ,
            "DAGSTER_HOME": str(work / "dagster_home"),
            "IDENTITY_LANDING_DIR": str(landing),
            "IDENTITY_DUCKDB_PATH": str(work / "identity.duckdb"),
            "IDENTITY_DUCKDB_MEMORY_LIMIT": args.memory_limit,
            "IDENTITY_FIRST_DAY": days[0],
            "IDENTITY_API_TOKEN": "",
        }
        dagster_home(work / "dagster_home")
        history = [a for day in days[:-1] for a in ("--day", day)]
        report["full"] = run_cli(env, history, work)
        report["settled"] = settle()
        print(f"full: {report['full']['seconds']:.1f}s; {said(report['settled'])}")
        report["incremental"] = run_cli(env, ["--day", days[-1]], work)
        print(f"incremental: {report['incremental']['seconds']:.1f}s")
        quiet, quiet_day = _quiet_landing(landing, days[-1], work)
        settle()
        report["quiet_day"] = run_cli(
            {**env, "IDENTITY_LANDING_DIR": str(quiet)}, ["--day", quiet_day], work
        )
        print(f"quiet day: {report['quiet_day']['seconds']:.1f}s")
        stage_floors, _ = measured_child(
            [sys.executable, __file__, "--step", "stage_floors", "--database",
             str(work / "identity.duckdb"), *common]
        )  # fmt: skip
        report["stage_floors"] = stage_floors
    _print(report)
    suffix = "" if args.memory_limit == "3GB" else f"-{args.memory_limit}"
    write_report(f"pipeline-{args.lines}{suffix}", report)


QUIET_DAY_LINES = 100


def _quiet_landing(landing: Path, last_day: str, work: Path) -> tuple[Path, str]:
    """A landing folder holding every landed day (linked) and the day after the last, with
    QUIET_DAY_LINES new events: the last day's first Segment lines under new message ids."""
    quiet = work / "landing-quiet"
    quiet.mkdir()
    for day in landing.iterdir():
        if day.name[:1].isdigit():
            (quiet / day.name).symlink_to(day, target_is_directory=True)
    source = min((landing / last_day).glob("segment-*"))
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rt") as lines:
        events = [json.loads(next(lines)) for _ in range(QUIET_DAY_LINES)]
    next_day = (date.fromisoformat(last_day) + timedelta(days=1)).isoformat()
    (quiet / next_day).mkdir()
    with (quiet / next_day / f"segment-{next_day}.jsonl").open("w") as out:
        for event in events:
            out.write(json.dumps({**event, "messageId": f"{event['messageId']}-quiet"}) + "\n")
    return quiet, next_day


def run_cli(env: dict[str, str], day_args: list[str], work: Path) -> dict:
    """One `identity-assets run`, its RSS and reads sampled; stage times from the run's step
    events. Per stage, `read_mb` is what the process asked the OS to read (page cache or not:
    the bytes a stage reads, whatever the machine), `disk_read_mb` what had to come from the
    disk (what a cold page cache makes it pay), `major_faults` the pages mapped files
    (libraries being imported) had to load from the disk, which the byte counts leave out, and
    `disk_write_mb` what it wrote that goes to the disk (checkpoints and the snapshot)."""
    started = time.time()
    child = subprocess.Popen(
        [str(CLI), "run", *day_args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    samples: list[Sample] = []
    watcher = threading.Thread(target=_sample, args=(child.pid, samples), daemon=True)
    watcher.start()
    output = child.stdout.read()
    child.wait()
    watcher.join(timeout=2)
    seconds = time.time() - started
    if child.returncode != 0:
        raise SystemExit(f"identity-assets run failed:\n{output[-3000:]}")
    steps = _step_windows(env["DAGSTER_HOME"])
    stages: dict[str, dict] = {}
    for step, (begin, end) in steps.items():
        name = STAGES.get(step, "checks")
        window = [sample.rss_mb for sample in samples if begin <= sample.time <= end]
        stage = stages.setdefault(name, dict.fromkeys(("seconds", "peak_rss_mb", *COUNTERS), 0))
        stage["seconds"] += end - begin
        stage["peak_rss_mb"] = max(stage["peak_rss_mb"], max(window, default=0.0))
        before, after = _at(samples, begin), _at(samples, end)
        for counter in COUNTERS:
            stage[counter] += getattr(after, counter) - getattr(before, counter)
        if name == "checks":
            stage.setdefault("by_step", {})[step] = round(end - begin, 2)
    rows, _ = measured_child(
        [sys.executable, __file__, "--step", "rows", "--database", env["IDENTITY_DUCKDB_PATH"],
         "--landing", env["IDENTITY_LANDING_DIR"]]
    )  # fmt: skip
    for name, count in rows.items():
        stages.setdefault(name, {})["rows"] = count
    last = samples[-1] if samples else Sample(0.0)
    return {
        "seconds": seconds,
        "peak_rss_mb": max((sample.rss_mb for sample in samples), default=0.0),
        **{counter: getattr(last, counter) for counter in COUNTERS},
        "stages": stages,
    }


class Sample(NamedTuple):
    time: float
    rss_mb: float = 0.0
    read_mb: float = 0.0
    disk_read_mb: float = 0.0
    major_faults: int = 0
    disk_write_mb: float = 0.0


# What a sample counts from the start of the process: a stage's share is the difference.
COUNTERS = ("read_mb", "disk_read_mb", "major_faults", "disk_write_mb")


def _sample(pid: int, samples: list[Sample]) -> None:
    """The CLI process and its children every 0.2 s: resident memory, and bytes read, major
    faults and bytes written so far (a child's counts leave the sums when it exits: the phone
    parser's workers, which start only for a full build's phones)."""
    try:
        process = psutil.Process(pid)
        while process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
            processes = [process, *process.children(recursive=True)]
            rss = sum(p.memory_info().rss for p in processes)
            io = [p.io_counters() for p in processes]
            samples.append(
                Sample(
                    time.time(),
                    rss / 2**20,
                    sum(c.read_chars for c in io) / 2**20,
                    sum(c.read_bytes for c in io) / 2**20,
                    sum(_major_faults(p.pid) for p in processes),
                    sum(c.write_bytes for c in io) / 2**20,
                )
            )
            time.sleep(0.2)
    except psutil.Error:
        return


def _major_faults(pid: int) -> int:
    """Page faults of `pid` that read from the disk (field 12 of /proc/<pid>/stat)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[9])
    except (OSError, IndexError, ValueError):
        return 0


def _at(samples: list[Sample], moment: float) -> Sample:
    """The last sample taken by `moment` (the first one when none was)."""
    earlier = [sample for sample in samples if sample.time <= moment]
    if earlier:
        return earlier[-1]
    return samples[0] if samples else Sample(moment)


def _step_windows(home: str) -> dict[str, tuple[float, float]]:
    """Start and end time of each step of the latest run, from the Dagster event log."""
    os.environ["DAGSTER_HOME"] = home
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs(limit=1)
        windows: dict[str, list[float]] = {}
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None or event.step_key is None:
                continue
            if event.event_type_value in ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE"):
                windows.setdefault(event.step_key, []).append(entry.timestamp)
    return {step: (min(times), max(times)) for step, times in windows.items()}


def _child_step(args: argparse.Namespace) -> dict:

    from identity_assets.ingest.core import day_files, landed_days

    conn = open_warehouse(args.database, args.memory_limit)
    if args.step == "rows":
        return {name: conn.execute(query).fetchall()[0][0] for name, query in ROWS.items()}
    if args.step == "floor":
        files = [
            str(p) for d in landed_days(args.landing, date(2000, 1, 1))
            for p in day_files(args.landing, d)[0]
        ]  # fmt: skip
        started = time.perf_counter()
        conn.execute(
            "create table floor as select * from read_json_auto($files, "
            "format = 'newline_delimited', ignore_errors = true)",
            {"files": files},
        )
        conn.execute("checkpoint")
        seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "rows": conn.execute("select count(*) from floor").fetchall()[0][0],
        }
    floors = {}
    for name, query in (("identity", IDENTITY_FLOOR), ("journal", JOURNAL_FLOOR)):
        started = time.perf_counter()
        conn.execute(query)
        conn.execute("checkpoint")
        floors[name] = time.perf_counter() - started
        conn.execute("drop table floor")
    return floors


def _print(report: dict) -> None:
    full, incremental = report["full"], report["incremental"]
    floors = {
        "ingest": report["floor"]["seconds"],
        **report["stage_floors"],
    }
    print(
        f"\n{report['lines']:,} lines over {report['days']} days, memory_limit "
        f"{report['memory_limit']}, {report['cpus']} cores"
    )
    print(
        f"{'stage':<10} {'seconds':>8} {'rows':>12} {'rows/s':>10} {'peak RSS':>10} "
        f"{'floor':>7} {'x floor':>8} {'next day':>9} {'x full':>7} {'day read':>9} "
        f"{'from disk':>10}"
    )
    for name in ("ingest", "identity", "journal", "metrics", "segments", "serving", "checks"):
        stage = full["stages"].get(name, {})
        seconds = stage.get("seconds", 0.0)
        rows = stage.get("rows", 0)
        floor = floors.get(name)
        day_stage = incremental["stages"].get(name, {})
        day = day_stage.get("seconds", 0.0)
        print(
            f"{name:<10} {seconds:>8.1f} {rows:>12,} {rows / seconds if seconds else 0:>10,.0f} "
            f"{stage.get('peak_rss_mb', 0):>7,.0f} MB "
            f"{f'{floor:.1f}' if floor else '':>7} {f'{seconds / floor:.2f}' if floor else '':>8} "
            f"{day:>9.1f} {day / seconds if seconds else 0:>7.2f} "
            f"{day_stage.get('read_mb', 0):>6,.0f} MB {day_stage.get('disk_read_mb', 0):>7,.0f} MB"
        )
    print(
        f"{'pipeline':<10} {full['seconds']:>8.1f} {'':>23} {full['peak_rss_mb']:>7,.0f} MB "
        f"{floors['ingest']:>7.1f} {full['seconds'] / floors['ingest']:>8.2f} "
        f"{incremental['seconds']:>9.1f} {incremental['seconds'] / full['seconds']:>7.2f} "
        f"{incremental.get('read_mb', 0):>6,.0f} MB {incremental.get('disk_read_mb', 0):>7,.0f} MB"
    )
    quiet = report.get("quiet_day")
    if quiet:
        stages = ", ".join(
            f"{name} {stage.get('seconds', 0.0):.1f}" for name, stage in quiet["stages"].items()
        )
        print(
            f"a quiet day ({QUIET_DAY_LINES} events) on this history: {quiet['seconds']:.1f} s "
            f"({quiet['seconds'] / full['seconds']:.3f} of the full build): {stages}"
        )


if __name__ == "__main__":
    main()
