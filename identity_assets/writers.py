"""One writer at a time: the run tag that the instance's queue limits to one run in progress.

DuckDB lets one process at a time open the warehouse for writing. Every run of
`daily_pipeline` carries `WAREHOUSE_TAG` (it is a run tag of the job, so runs from the
schedule, the sensor, the UI and the command line all get it), and `dagster.yaml` limits
runs with that tag to one in progress: the daemon's queue starts the next one only when
the previous one has ended. The value is a constant, not the warehouse's path: runs of one
Dagster instance write one warehouse, and a constant cannot be spelled two ways (relative
and absolute paths, symlinks) for the same file.

The command line executes its run in its own process, which the queue does not gate, so it
waits here first for any tagged run in progress to end. Its own run then carries the tag
from the moment Dagster records it as started, which keeps the queue from starting another.
(Dagster is imported where it is used: the command line's look-ups import this module and
start fast.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg

WAREHOUSE_TAG = "identity_assets/warehouse"
WRITE = "write"
WAIT_TIMEOUT_SECONDS = 2 * 3600
POLL_SECONDS = 2.0


class WarehouseBusy(RuntimeError):
    """Another run still writes the warehouse after the time we were willing to wait."""


def writers_in_progress(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """Runs tagged as warehouse writers that have started and not ended, oldest first."""
    import dagster as dg

    active = [
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.CANCELING,
    ]
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=active, tags={WAREHOUSE_TAG: WRITE}))
    return list(reversed(runs))


def wait_for_writers(
    instance: dg.DagsterInstance,
    say: Callable[[str], None] = print,
    timeout: float = WAIT_TIMEOUT_SECONDS,
    poll: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once no tagged run is in progress; name each run waited for, once.

    This narrows the race with the daemon's queue but does not close it. Between the last
    look here and the moment the caller's run is recorded as started (the time
    `execute_in_process` takes to plan the run and set it up: 0.4 to 1.5 s for a small day on
    a 2-core machine) the queue can start a queued run, and the two then write at once. The
    warehouse resource retries a connection DuckDB refuses for its file lock, so such runs
    interleave step by step rather than fail to open, and can leave stages out of step (two
    overlapping runs failed a journal check that way). Queued runs are not waited
    for: the queue starts them, and holds them back while the caller's run is in progress.
    """
    deadline = time.monotonic() + timeout
    named: set[str] = set()
    while True:
        running = writers_in_progress(instance)
        if not running:
            return
        for run in running:
            if run.run_id not in named:
                named.add(run.run_id)
                say(
                    f"identity-assets: waiting for run {run.run_id} ({run.job_name}, "
                    f"{run.status.value}) to finish writing the warehouse"
                )
        if time.monotonic() >= deadline:
            ids = ", ".join(run.run_id for run in running)
            raise WarehouseBusy(
                f"run(s) {ids} still hold the warehouse after {timeout:.0f}s; if one is no "
                "longer running, terminate it in the Dagster UI, then run again"
            )
        sleep(poll)
