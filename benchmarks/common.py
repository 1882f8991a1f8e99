"""Helpers the benchmarks share: cached sample landing folders and measured child processes."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
REPO = OUT.parent.parent


def dagster_home(path: Path) -> Path:
    """A new Dagster home with the project's instance settings, as `make` sets one up."""
    path.mkdir()
    shutil.copy(REPO / "dagster.yaml", path / "dagster.yaml")
    return path


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


# The probe of the disk: random 4 KiB reads of a file dropped from the page cache first.
PROBE_FILE_MB = 64
PROBE_READS = 256
# The disk is quiet when two probes in a row agree within this share, or after this long.
PROBE_AGREEMENT = 0.2
SETTLE_TIMEOUT_SECONDS = 180.0
# What a run imports: the new day is timed with it in the page cache, as it is after any
# run on the same machine. A 10M history's build writes about 12 GB, which pushes it out,
# and reading it back cost 4 to 20 s that do not depend on the history.
RUN_IMPORTS = "import identity_assets.definitions, pyarrow, scipy.special, lifetimes, sklearn"


def settle() -> dict:
    """Flush what the history's runs wrote, wait until the disk answers random reads at a
    steady rate, and load the run's code into the page cache, before the new day is timed.

    A nightly run starts hours after the last one. Straight after a 10M build the disk was
    still busy with the build's writes, even after `os.sync` (the machine's disk is shared),
    and the new day's reads waited on it: the same 10M new day measured 34 s and 60 s."""
    started = time.perf_counter()
    os.sync()
    rates = [_random_reads_per_second()]
    while time.perf_counter() - started < SETTLE_TIMEOUT_SECONDS:
        time.sleep(2)
        rates.append(_random_reads_per_second())
        if abs(rates[-1] - rates[-2]) <= PROBE_AGREEMENT * max(rates[-2:]):
            break
    quiet = time.perf_counter() - started
    warm = time.perf_counter()
    subprocess.run([sys.executable, "-c", RUN_IMPORTS], check=True)
    return {
        "seconds": round(quiet, 1),
        "disk_reads_per_second": round(rates[-1]),
        "probes": len(rates),
        "code_load_seconds": round(time.perf_counter() - warm, 2),
    }


def said(settled: dict) -> str:
    """A settle() outcome on one line."""
    return (
        f"disk quiet after {settled['seconds']:.1f}s ({settled['disk_reads_per_second']:,} "
        f"random reads/s, {settled['probes']} probes), code loaded in "
        f"{settled['code_load_seconds']:.1f}s"
    )


def _random_reads_per_second() -> float:
    """Random 4 KiB reads per second from a file out of the page cache."""
    probe = OUT / "disk-probe.bin"
    if not probe.exists() or probe.stat().st_size != PROBE_FILE_MB << 20:
        OUT.mkdir(parents=True, exist_ok=True)
        with probe.open("wb") as out:
            out.write(os.urandom(PROBE_FILE_MB << 20))
            out.flush()
            os.fsync(out.fileno())
    offsets = random.Random(0).sample(range(PROBE_FILE_MB << 8), PROBE_READS)
    fd = os.open(probe, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        started = time.perf_counter()
        for offset in offsets:
            os.pread(fd, 4096, offset << 12)
        return PROBE_READS / (time.perf_counter() - started)
    finally:
        os.close(fd)


def measured_child(command: list[str]) -> tuple[dict, float]:
    """Run a child that prints a JSON object last; return it and the child's peak RSS in MB.

    The peak is the child's own high-water mark (VmHWM), read while it runs. `ru_maxrss` from
    wait4 will not do: Linux carries the parent's peak into a forked child, so a child started
    after this process built a warehouse reported this process's memory.
    """
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak_kb = [0]
    watcher = threading.Thread(target=_watch_peak, args=(child.pid, peak_kb), daemon=True)
    watcher.start()
    output = child.stdout.read()
    status = child.wait()
    watcher.join()
    if status != 0:
        raise SystemExit(f"benchmark step failed: {' '.join(command)}")
    return json.loads(output.strip().splitlines()[-1]), peak_kb[0] / 1024


def _watch_peak(pid: int, peak_kb: list[int]) -> None:
    """Keep the highest VmHWM of process `pid` in peak_kb[0] until it exits."""
    status = Path(f"/proc/{pid}/status")
    while True:
        try:
            text = status.read_text()
        except OSError:
            return
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                peak_kb[0] = max(peak_kb[0], int(line.split()[1]))
        if "State:\tZ" in text:
            return
        time.sleep(0.1)


def history_warehouse(lines: int, days: int, memory_limit: str = "4GB") -> tuple[Path, Path]:
    """A warehouse holding every day but the last, ingested and resolved; reused while valid.

    Later stages benchmark on top of it: they copy it, build their tables over the history,
    then ingest and resolve the last day and measure one incremental run.
    """
    import duckdb

    from identity_assets.identity.graph import resolve_identities
    from identity_assets.ingest.core import ingest_days, landed_days

    landing, _ = generate_landing(lines, days)
    path = OUT / f"history-{lines}-{days}d.duckdb"
    marker = path.with_suffix(".json")
    version = _stage_code_version()
    if path.exists() and marker.exists() and json.loads(marker.read_text()).get("code") == version:
        return landing, path
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    conn = duckdb.connect(str(path), config={"memory_limit": memory_limit})
    conn.execute("set enable_progress_bar = false")
    all_days = landed_days(landing, date(2000, 1, 1))
    list(ingest_days(conn, landing, all_days[:-1]))
    resolve_identities(conn)
    conn.execute("checkpoint")
    conn.close()
    seconds = time.perf_counter() - started
    marker.write_text(json.dumps({"seconds": seconds, "code": version}))
    print(f"built the history warehouse {path.name} in {seconds:.0f}s")
    return landing, path


def _stage_code_version() -> str:
    """A hash of the ingest and identity code: a history built by other code is built anew."""
    package = Path(__file__).resolve().parent.parent / "identity_assets"
    digest = hashlib.sha256()
    for stage in ("ingest", "identity"):
        for file in sorted((package / stage).rglob("*")):
            if file.suffix in (".py", ".sql"):
                digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def open_warehouse(path: Path, memory_limit: str):
    """A DuckDB connection for a benchmark step, with its memory limit and no progress bar."""
    import duckdb

    conn = duckdb.connect(str(path), config={"memory_limit": memory_limit})
    conn.execute("set enable_progress_bar = false")
    return conn


def write_report(name: str, report: dict) -> None:
    """Write a benchmark's figures as JSON to benchmarks/out/<name>.json and say where."""
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"figures written to {path}")


def timed_floor(conn, query: str) -> dict:
    """Run a floor query that creates table `floor`, checkpoint, and return seconds and rows."""
    started = time.perf_counter()
    conn.execute(query)
    conn.execute("checkpoint")
    seconds = time.perf_counter() - started
    rows = conn.execute("select count(*) from floor").fetchall()[0][0]
    conn.execute("drop table floor")
    return {"seconds": seconds, "rows": rows}
