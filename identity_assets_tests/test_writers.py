"""One writer at a time: every run of the job is tagged, the queue starts tagged runs one by one,
and the command line waits for a tagged run in progress before it starts its own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.test_utils import create_run_for_test

from identity_assets.definitions import DAILY_JOB_NAME, defs
from identity_assets.ingest.core import ingest_day
from identity_assets.writers import WAREHOUSE_TAG, WRITE, WarehouseBusy, wait_for_writers
from identity_assets_tests import processes
from identity_assets_tests.builders import (
    DAY,
    ROOT,
    Landing,
    dagster_home,
    track,
)

DAEMON = Path(sys.executable).with_name("dagster-daemon")
WRITER = {WAREHOUSE_TAG: WRITE}
# The project's queue limits: the queue looks every second rather than every five, so the
# second day's run starts soon after the first ends.
QUICK_QUEUE = (ROOT / "dagster.yaml").read_text() + (
    "run_coordinator:\n"
    "  module: dagster._core.run_coordinator\n"
    "  class: QueuedRunCoordinator\n"
    "  config:\n"
    "    dequeue_interval_seconds: 1\n"
)
IN_PROGRESS = (
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
)


def test_every_run_of_every_job_is_a_warehouse_writer() -> None:
    # the schedules, the sensor, the UI and execute_in_process all start from the job's run tags
    jobs = [job for job in defs.resolve_all_job_defs() if not job.name.startswith("__")]
    assert DAILY_JOB_NAME in {job.name for job in jobs} and len(jobs) == 3
    assert all(job.run_tags[WAREHOUSE_TAG] == WRITE for job in jobs)


def test_the_instance_settings_allow_one_writer_at_a_time(tmp_path: Path) -> None:
    with dg.DagsterInstance.from_config(str(dagster_home(tmp_path))) as instance:
        queue = instance.get_concurrency_config().run_queue_config
    assert {"key": WAREHOUSE_TAG, "value": WRITE, "limit": 1} in queue.tag_concurrency_limits


def test_the_wait_names_the_run_in_progress_once_and_ends_with_it() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        writer = create_run_for_test(
            instance, DAILY_JOB_NAME, status=dg.DagsterRunStatus.STARTED, tags=WRITER
        )
        # neither a writer that has ended nor another job's run holds the warehouse
        create_run_for_test(
            instance, DAILY_JOB_NAME, status=dg.DagsterRunStatus.SUCCESS, tags=WRITER
        )
        create_run_for_test(instance, "other_job", status=dg.DagsterRunStatus.STARTED)
        said: list[str] = []
        polls: list[float] = []

        def sleep(seconds: float) -> None:
            polls.append(seconds)
            if len(polls) == 3:
                instance.report_run_canceled(writer)

        wait_for_writers(instance, say=said.append, poll=0.5, sleep=sleep)
    assert len(polls) == 3
    assert said == [
        f"identity-assets: waiting for run {writer.run_id} (daily_pipeline, STARTED) "
        "to finish writing the warehouse"
    ]


def test_the_wait_gives_up_naming_the_run_that_never_ends() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        stuck = create_run_for_test(
            instance, DAILY_JOB_NAME, status=dg.DagsterRunStatus.STARTING, tags=WRITER
        )
        with pytest.raises(WarehouseBusy, match=f"{stuck.run_id} still hold the warehouse"):
            wait_for_writers(instance, say=lambda _: None, timeout=0.3, poll=0.05)


@pytest.fixture
def daemon_env(tmp_path: Path, landing: Landing) -> dict[str, str]:
    home = dagster_home(tmp_path / "dagster_home", QUICK_QUEUE)
    return {
        "DAGSTER_HOME": str(home),
        "IDENTITY_LANDING_DIR": str(landing.root),
        "IDENTITY_DUCKDB_PATH": str(tmp_path / "identity.duckdb"),
        "IDENTITY_API_TOKEN": "",
    }


@pytest.fixture
def dagster_daemon(tmp_path: Path, daemon_env: dict[str, str]) -> Iterator[Callable[[], None]]:
    """`dagster-daemon run` over the project's workspace, in its own process group."""
    log = tmp_path / "daemon.log"

    def start() -> None:
        command = [str(DAEMON), "run", "-w", str(ROOT / "workspace.yaml")]
        environment = {**os.environ, **daemon_env}
        started.append(processes.start(command, log=log, cwd=ROOT, env=environment))

    started: list[subprocess.Popen] = []
    try:
        yield start
    finally:
        for daemon in started:  # with its code server and a run still going
            processes.stop(daemon, grace=30)


@pytest.mark.slow
def test_late_files_on_two_days_run_one_after_the_other(
    tmp_path: Path, landing: Landing, daemon_env: dict[str, str], dagster_daemon
) -> None:
    days = [DAY - timedelta(days=1), DAY]
    for n, day in enumerate(days):
        landing.write("a.jsonl", [track(n, day, userId=f"u-{n}")], day=day)
    with duckdb.connect(daemon_env["IDENTITY_DUCKDB_PATH"]) as conn:
        for day in days:
            ingest_day(conn, landing.root, day)
    for n, day in enumerate(days):
        landing.write("late.jsonl", [track(10 + n, day, userId=f"u-{10 + n}")], day=day)

    # the sensor's first tick asks for both days at once; the queue must start them one by one
    dagster_daemon()
    with dg.DagsterInstance.from_config(daemon_env["DAGSTER_HOME"]) as instance:
        most_in_progress, queued_behind_a_writer = 0, False
        deadline = time.monotonic() + 240
        while True:
            runs = instance.get_runs(dg.RunsFilter(job_name=DAILY_JOB_NAME))
            statuses = [run.status for run in runs]
            in_progress = sum(status in IN_PROGRESS for status in statuses)
            most_in_progress = max(most_in_progress, in_progress)
            queued_behind_a_writer |= in_progress == 1 and dg.DagsterRunStatus.QUEUED in statuses
            if len(runs) == 2 and all(run.is_finished for run in runs):
                break
            if time.monotonic() > deadline:  # the whole log: pytest would cut an assertion's
                pytest.fail(
                    f"runs {statuses}; the daemon said:\n{(tmp_path / 'daemon.log').read_text()}"
                )
            time.sleep(0.2)
        records = sorted(
            instance.get_run_records(dg.RunsFilter(job_name=DAILY_JOB_NAME)),
            key=lambda record: record.start_time,
        )
    assert [r.dagster_run.status for r in records] == [dg.DagsterRunStatus.SUCCESS] * 2
    assert sorted(r.dagster_run.tags["dagster/partition"] for r in records) == [
        day.isoformat() for day in days
    ]
    for record in records:
        assert record.dagster_run.tags[WAREHOUSE_TAG] == WRITE
        assert "late.jsonl (new)" in record.dagster_run.tags["identity_assets/reason"]
    first, second = records
    assert first.end_time <= second.start_time
    assert most_in_progress == 1 and queued_behind_a_writer
