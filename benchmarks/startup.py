"""The fixed cost of a run: what `identity-assets run` spends before and around the work.

Each phase is timed in a fresh Python process, as a run starts:

- `python`: the interpreter starting and stopping (`python -c pass`), for reference;
- `cli --help`: `identity-assets --help`, a whole CLI process that loads no pipeline;
- `import cli`, `import definitions`: importing the CLI module, then the Definitions module
  (Dagster, the stages, their SQL);
- `build definitions`: `build_definitions()` and resolving `daily_pipeline`;
- `instance`: creating the Dagster instance (a `DAGSTER_HOME` with the project's
  `dagster.yaml`, as `make` sets it up);
- `empty run`: `execute_in_process` of the daily job for a day already ingested, with nothing
  new anywhere (a tiny warehouse built first): the job's own overhead;
- `cli run`: the same empty run as a whole `identity-assets run --day D` process.

    .venv/bin/python benchmarks/startup.py [--repeat 3]

Prints each phase's median seconds over the repeats and writes them to
`benchmarks/out/startup.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
CLI = str(Path(PYTHON).with_name("identity-assets"))
REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out"

_CHILD = r"""
import json, os, sys, time
from datetime import date
times = {}
started = time.perf_counter()
import identity_assets.cli as cli
times["import cli"] = time.perf_counter() - started
started = time.perf_counter()
from identity_assets.definitions import DAILY_JOB_NAME, build_definitions
times["import definitions"] = time.perf_counter() - started
started = time.perf_counter()
job = build_definitions().resolve_job_def(DAILY_JOB_NAME)
times["build definitions"] = time.perf_counter() - started
started = time.perf_counter()
instance = cli._instance()
times["instance"] = time.perf_counter() - started
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG,
)
day = sys.argv[1]
started = time.perf_counter()
result = job.execute_in_process(
    instance=instance,
    tags={ASSET_PARTITION_RANGE_START_TAG: day, ASSET_PARTITION_RANGE_END_TAG: day},
    raise_on_error=False,
)
times["empty run"] = time.perf_counter() - started
assert result.success, "the empty run failed"
print(json.dumps(times))
"""


def _seconds(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from identity_assets.ingest.core import landed_days
    from identity_assets.sample import SampleConfig, write_sample

    with tempfile.TemporaryDirectory() as root:
        landing = Path(root) / "landing"
        write_sample(landing, SampleConfig(people=30, days=1, history_days=10))
        (day,) = landed_days(landing, __import__("datetime").date(2000, 1, 1))
        env = os.environ | {
            "IDENTITY_LANDING_DIR": str(landing),
            "IDENTITY_DUCKDB_PATH": str(Path(root) / "identity.duckdb"),
            "DAGSTER_HOME": str(Path(root) / "dagster_home"),
            "IDENTITY_FIRST_DAY": day.isoformat(),
        }
        env.pop("IDENTITY_API_TOKEN", None)
        (Path(root) / "dagster_home").mkdir()
        shutil.copy(REPO / "dagster.yaml", Path(root) / "dagster_home" / "dagster.yaml")
        run = [CLI, "run", "--day", day.isoformat()]
        subprocess.run(run, env=env, check=True, stdout=subprocess.DEVNULL)  # the real work
        samples: dict[str, list[float]] = {}
        for _ in range(args.repeat):
            samples.setdefault("python", []).append(_seconds([PYTHON, "-c", "pass"], env))
            samples.setdefault("cli --help", []).append(_seconds([CLI, "--help"], env))
            child = subprocess.run(
                [PYTHON, "-c", _CHILD, day.isoformat()],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            for phase, seconds in json.loads(child.stdout.splitlines()[-1]).items():
                samples.setdefault(phase, []).append(seconds)
            samples.setdefault("cli run", []).append(_seconds(run, env))
    medians = {phase: round(statistics.median(values), 3) for phase, values in samples.items()}
    width = max(len(phase) for phase in medians)
    for phase, seconds in medians.items():
        print(f"{phase:<{width}}  {seconds:6.2f} s")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "startup.json").write_text(json.dumps(medians, indent=2))


if __name__ == "__main__":
    main()
