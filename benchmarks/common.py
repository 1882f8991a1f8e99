"""Helpers the benchmarks share: cached sample landing folders and measured child processes."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def generate_landing(lines: int, days: int) -> tuple[Path, int]:
    """Sample exports of about `lines` lines over `days` folders, reused while the config holds."""
    from identity_assets.sample import SampleConfig, write_sample

    landing = OUT / f"landing-{lines}-{days}d"
    config = SampleConfig(target_lines=lines, days=days, history_days=0)
    marker = landing / "_truth" / "benchmark.json"
    if marker.exists() and json.loads(marker.read_text()).get("config") == repr(config):
        return landing, json.loads(marker.read_text())["lines"]
    started = time.perf_counter()
    summary = write_sample(landing, config)
    print(f"generated {summary.total_lines:,} lines in {time.perf_counter() - started:.1f}s")
    marker.write_text(json.dumps({"config": repr(config), "lines": summary.total_lines}))
    return landing, summary.total_lines


def measured_child(command: list[str]) -> tuple[dict, float]:
    """Run a child that prints a JSON object last; return it and the child's peak RSS in MB."""
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(child.pid, 0)
    output = child.stdout.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark step failed: {' '.join(command)}")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss / 1024
