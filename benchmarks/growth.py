"""Growth benchmark: the same new day on top of histories of growing size, stage by stage.

Usage:
    python benchmarks/growth.py [--histories 1000000,3000000,10000000] [--memory-limit 3GB]
                                [--landing LINES=DIR ...] [--keep] [--repeat 3]

What a user pays every night is the new day's run, so it should follow the day, not the
history. Every history here is one shop's people (the 1M sample's: same seed, same number of
people, so the same identifiers) over more days, all ending on the same day: 1M lines are 30
days, 3M 90 days, 10M 460 days (`HISTORY_DAYS`: the same people come back less often as the
months pass, so 300 days of them hold only 7.2M lines). The new day is the day after,
generated once from those people (the last day of a 30-day sample ending a day later, so its
visitors are returning and new people as on any day) and linked into each history as its next
day folder: the same bytes on top of every history.

For each history, in a scratch directory: `identity-assets run` over the history's days (not
measured). Then the new day runs `--repeat` times (3) on each, the histories taking turns (1M,
3M, 10M, 1M, ...): this machine's speed drifts over minutes (one 1M new day took 9.9 s and,
half an hour later, 13.1 s), and histories measured one after another would carry that drift
into their ratios. Each run starts once the disk is quiet and the run's code is in the page
cache (`common.settle`), on the warehouse, snapshot and Dagster home put back as the history
left them. The run of median seconds gives each stage's seconds, bytes read (from the page
cache or the disk; and from the disk alone), bytes written and peak RSS, taken as
benchmarks/pipeline.py takes them. Every history and its copy as built are kept until the
end: about 32 GB free for the three (10M: 3.3 GB of warehouse and 8.3 GB of snapshot). Prints a
markdown table with each stage's ratio to the 1M history's and writes
benchmarks/out/growth.json. `--landing 10000000=DIR` uses an existing landing folder
for a history (read only; a history of other people is flagged: the new day's people are then
strangers to it). `--keep` keeps each history's warehouse and Dagster home under
benchmarks/out/growth-<lines>/.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from common import OUT, dagster_home, generate_landing, said, settle, write_report
from pipeline import run_cli

BASE_LINES = 1_000_000
BASE_DAYS = 30
# Days of the same people that hold each history's lines (measured: 1.05M, 2.96M, 9.86M).
HISTORY_DAYS = {1_000_000: 30, 3_000_000: 90, 10_000_000: 460}
STAGES = ("ingest", "identity", "journal", "metrics", "segments", "serving", "checks")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--histories", default="1000000,3000000,10000000")
    parser.add_argument("--memory-limit", default="3GB")
    parser.add_argument("--landing", action="append", default=[], metavar="LINES=DIR")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    histories = [int(n) for n in args.histories.split(",")]
    given = {int(k): Path(v) for k, v in (item.split("=", 1) for item in args.landing)}

    base, _ = generate_landing(BASE_LINES, BASE_DAYS)
    people = _people(base)
    end = max(_days(base))
    day_dir = _new_day(people, end)
    day_lines = _lines(day_dir)
    print(f"new day {day_dir.name}: {day_lines:,} lines from {people:,} people")
    report: dict = {
        "date": date.today().isoformat(),
        "new_day": day_dir.name,
        "new_day_lines": day_lines,
        "people": people,
        "memory_limit": args.memory_limit,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "histories": {},
    }
    built: dict[int, _History] = {}
    try:
        for lines in histories:
            landing = given.get(lines) or _history(lines, people, end)
            built[lines] = _build(lines, landing, day_dir, people, args)
        # the histories take turns, so a machine that slows down for a while slows them all
        for repeat in range(args.repeat):
            for lines in histories:
                built[lines].run_new_day(day_dir, restore=repeat > 0)
        for lines in histories:
            report["histories"][str(lines)] = built[lines].report()
    finally:
        for history in built.values():
            history.close()
    report["load_average_after"] = os.getloadavg()
    _print(report)
    write_report("growth", report)


def _people(landing: Path) -> int:
    """How many people a sample landing's generator simulated (its ground truth lists them)."""
    with (landing / "_truth" / "people.csv").open() as people:
        return sum(1 for _ in csv.reader(people)) - 1


def _days(landing: Path) -> list[date]:
    return sorted(date.fromisoformat(p.name) for p in landing.iterdir() if p.name[:1].isdigit())


def _lines(folder: Path) -> int:
    import gzip

    count = 0
    for path in folder.iterdir():
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt") as lines:
            count += sum(1 for _ in lines)
    return count


def _history(lines: int, people: int, end: date) -> Path:
    """The 1M sample, or the same people over more days; generated once."""
    if lines == BASE_LINES:
        return generate_landing(BASE_LINES, BASE_DAYS)[0]
    from identity_assets.sample import SampleConfig

    days = HISTORY_DAYS.get(lines) or round(BASE_DAYS * lines / BASE_LINES)
    config = SampleConfig(people=people, days=days, history_days=0, end_day=end)
    return _generated(OUT / f"landing-growth-{people}-{days}d", config)


def _new_day(people: int, end: date) -> Path:
    """The day after `end`: the last folder of a 30-day sample of the same people ending then."""
    from identity_assets.sample import SampleConfig

    day = end + timedelta(days=1)
    config = SampleConfig(people=people, days=BASE_DAYS, history_days=0, end_day=day)
    return _generated(OUT / f"landing-growth-{people}-to-{day}", config) / day.isoformat()


def _generated(landing: Path, config) -> Path:
    """Sample exports for `config` in `landing`, reused while the config holds."""
    from identity_assets.sample import write_sample

    marker = landing / "_truth" / "benchmark.json"
    if marker.exists() and json.loads(marker.read_text()).get("config") == repr(config):
        return landing
    summary = write_sample(landing, config)
    marker.write_text(json.dumps({"config": repr(config), "lines": summary.total_lines}))
    print(f"generated {summary.total_lines:,} lines in {landing.name}")
    return landing


@dataclass
class _History:
    """A history built through the CLI in its own directory, with a copy as built to put back
    before each repeat of the new day (none for a single run)."""

    lines: int
    work: Path
    env: dict
    built: Path | None
    scratch: tempfile.TemporaryDirectory | None
    info: dict
    runs: list = field(default_factory=list)
    settled: list = field(default_factory=list)

    def run_new_day(self, day_dir: Path, restore: bool) -> None:
        if restore:
            _copy_state(self.built, self.work)
        self.settled.append(settle())
        print(f"{self.lines:,}: {said(self.settled[-1])}")
        self.runs.append(run_cli(self.env, ["--day", day_dir.name], self.work))
        print(f"{self.lines:,}: new day in {self.runs[-1]['seconds']:.1f}s")

    def report(self) -> dict:
        return {
            **self.info,
            "settled": self.settled,
            "new_day_seconds": [run["seconds"] for run in self.runs],
            "new_day": sorted(self.runs, key=lambda run: run["seconds"])[len(self.runs) // 2],
        }

    def close(self) -> None:
        if self.built:
            shutil.rmtree(self.built, ignore_errors=True)
        if self.scratch is not None:
            self.scratch.cleanup()


def _build(lines: int, history: Path, day_dir: Path, people: int, args) -> _History:
    """Build the history through the CLI in a directory of its own, ready for the new day."""
    days = [d for d in _days(history) if d < date.fromisoformat(day_dir.name)]
    strangers = _people(history) != people if (history / "_truth").is_dir() else True
    if strangers:
        print(f"{history}: other people than the new day's; its people are new to this history")
    keep = OUT / f"growth-{lines}"
    scratch = None if args.keep else tempfile.TemporaryDirectory(dir=OUT)
    work = keep if args.keep else Path(scratch.name)
    shutil.rmtree(work, ignore_errors=True)
    landing = work / "landing"
    landing.mkdir(parents=True)
    for day in days:
        (landing / day.isoformat()).symlink_to((history / day.isoformat()).resolve())
    (landing / day_dir.name).symlink_to(day_dir.resolve())
    env = {
        **os.environ,
        "DAGSTER_HOME": str(work / "dagster_home"),
        "IDENTITY_LANDING_DIR": str(landing),
        "IDENTITY_DUCKDB_PATH": str(work / "identity.duckdb"),
        "IDENTITY_DUCKDB_MEMORY_LIMIT": args.memory_limit,
        "IDENTITY_FIRST_DAY": days[0].isoformat(),
        "IDENTITY_API_TOKEN": "",
    }
    dagster_home(work / "dagster_home")
    full = run_cli(env, [a for day in days for a in ("--day", day.isoformat())], work)
    print(f"{lines:,}: history of {len(days)} days built in {full['seconds']:.1f}s")
    built = work / "as-built" if args.repeat > 1 else None
    if built:
        _copy_state(work, built)
    info = {
        "landing": str(history),
        "days": len(days),
        "events": full["stages"].get("ingest", {}).get("rows"),
        "other_people": strangers,
        "full_seconds": full["seconds"],
    }
    return _History(lines, work, env, built, scratch, info)


# What a run changes in a history's scratch directory: put back as built before each repeat.
STATE = ("identity.duckdb", "identity.duckdb.wal", "serving", "dagster_home")


def _copy_state(source: Path, target: Path) -> None:
    target.mkdir(exist_ok=True)
    for name in STATE:
        old = target / name
        if old.is_dir():
            shutil.rmtree(old)
        elif old.exists():
            old.unlink()
        if (source / name).is_dir():
            shutil.copytree(source / name, old, symlinks=True)
        elif (source / name).exists():
            shutil.copy2(source / name, old)


def _print(report: dict) -> None:
    histories = report["histories"]
    base = histories.get(str(BASE_LINES)) or next(iter(histories.values()))
    print(
        f"\nnew day {report['new_day']} ({report['new_day_lines']:,} lines), memory_limit "
        f"{report['memory_limit']}, {report['cpus']} cores, load average "
        f"{report['load_average'][0]:.1f} before, {report['load_average_after'][0]:.1f} after"
    )
    header = ["stage"]
    for lines, history in histories.items():
        runs = ", ".join(f"{seconds:.1f}" for seconds in history.get("new_day_seconds", []))
        print(f"{int(lines) / 1e6:g}M: new day runs {runs} s; the median run is shown")
    for lines, history in histories.items():
        name = f"{int(lines) / 1e6:g}M ({history['events']:,} events, {history['days']} days)"
        header += [f"{name}: s", "x 1M", "read", "from disk", "written", "peak RSS"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for stage in (*STAGES, "whole run"):
        row = [stage]
        for history in histories.values():
            seconds, peak, read, disk, written = _figures(history["new_day"], stage)
            base_seconds = _figures(base["new_day"], stage)[0]
            ratio = f"{seconds / base_seconds:.2f}" if base_seconds else ""
            row += [
                f"{seconds:.1f}",
                ratio,
                f"{read:,.0f} MB",
                f"{disk:,.0f} MB",
                f"{written:,.0f} MB",
                f"{peak:,.0f} MB",
            ]
        print("| " + " | ".join(row) + " |")


def _figures(run: dict, stage: str) -> tuple[float, ...]:
    """Seconds, peak RSS, MB read, MB read from the disk and MB written to it, of a stage (or
    the whole run)."""
    figures = run if stage == "whole run" else run["stages"].get(stage, {})
    return tuple(
        figures.get(name, 0.0)
        for name in ("seconds", "peak_rss_mb", "read_mb", "disk_read_mb", "disk_write_mb")
    )


if __name__ == "__main__":
    main()
