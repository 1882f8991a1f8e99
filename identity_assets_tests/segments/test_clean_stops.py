"""Stop signals sent to real processes: a run and `make dev` stop within seconds, cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from identity_assets.sample import SampleConfig, write_sample
from identity_assets.segments.client import IdentifierClient
from identity_assets.segments.outbox import deliver_updates
from identity_assets_tests import processes
from identity_assets_tests.builders import CLI, ROOT, TOKEN
from identity_assets_tests.processes import answers, free_port, wait_until

pytestmark = pytest.mark.slow


def ignoring_sigint() -> None:
    """What a shell does to a job it starts in the background."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start(command: list[str], log: Path, env: dict) -> subprocess.Popen:
    return processes.start(command, log=log, env=env, preexec_fn=ignoring_sigint)


@pytest.mark.parametrize("signum", [signal.SIGTERM])
def test_a_stopped_run_exits_in_seconds_and_the_next_catches_up(
    tmp_path: Path, stand_in, signum
) -> None:
    api = stand_in("--slow-rate", "1", "--slow-seconds", "2")
    write_sample(tmp_path / "landing", SampleConfig(people=150, days=2, history_days=20))
    database = tmp_path / "identity.duckdb"
    env = {**os.environ, "IDENTITY_LANDING_DIR": str(tmp_path / "landing"),
           "IDENTITY_DUCKDB_PATH": str(database), "IDENTITY_API_URL": api.url,
           "IDENTITY_API_TOKEN": TOKEN, "IDENTITY_FIRST_DAY": "2026-11-01",
           # two requests on their way when stopped: the next run reads the API's journal for
           # each, one after the other, at the stand-in's 2 s an answer
           "IDENTITY_API_CONCURRENCY": "2"}  # fmt: skip
    env.pop("DAGSTER_HOME", None)
    log = tmp_path / "run.log"
    run = start([str(CLI), "run", "--all"], log, env)
    try:
        wait_until(lambda: "segments: queued {" in log.read_text(), 120)
        time.sleep(0.5)  # requests on their way, answered in 2 s
        stopped = time.monotonic()
        os.killpg(run.pid, signum)
        assert run.wait(timeout=10) == 130
        assert time.monotonic() - stopped < 10
    finally:
        processes.stop(run, grace=0)
    assert "run stopped by a signal" in log.read_text()
    with duckdb.connect(str(database)) as conn:
        in_flight = conn.execute(
            "select count(*) from segment_updates where dispatched_at is not null"
        ).fetchall()[0][0]
        assert in_flight > 0  # recorded as on their way, not forgotten
        client = IdentifierClient(api.url, TOKEN, timeout_seconds=2.5, settle_seconds=0.5)
        result = deliver_updates(conn, client, concurrency=16)  # the rest in one round
        assert result.reconciled > 0
        total, sent = conn.execute(
            "select count(*), count(*) filter (where status = 'sent') from segment_updates"
        ).fetchall()[0]
    assert total == sent
    assert (api.stats()["update_ids"], api.stats()["recorded_twice"]) == (total, 0)


def test_make_dev_stops_within_ten_seconds(tmp_path: Path) -> None:
    port = free_port()
    home = tmp_path / "dagster_home"
    env = {**os.environ, "DAGSTER_HOME": str(home), "DEV_PORT": str(port),
           "IDENTITY_LANDING_DIR": str(tmp_path / "landing"),
           "IDENTITY_DUCKDB_PATH": str(tmp_path / "identity.duckdb")}  # fmt: skip
    dev = start(["make", "--no-print-directory", "-C", str(ROOT), "dev"], tmp_path / "dev.log", env)
    url = f"http://127.0.0.1:{port}/server_info"
    try:
        wait_until(lambda: answers(url), 120)
        stopped = time.monotonic()
        os.killpg(dev.pid, signal.SIGINT)  # ignored by make's job, as from a background shell
        os.killpg(dev.pid, signal.SIGTERM)
        wait_until(lambda: dev.poll() is not None and not dagster_processes(home), 10)
        assert time.monotonic() - stopped < 10
    finally:
        processes.stop(dev, grace=0)
        for pid in dagster_processes(home):
            os.kill(pid, signal.SIGKILL)
    assert not answers(url)


def dagster_processes(home: Path) -> list[int]:
    """The processes of a `dagster dev` using this Dagster home (named on their command line)."""
    found = subprocess.run(["pgrep", "-f", str(home)], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]
