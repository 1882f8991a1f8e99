"""Run a command so that SIGINT or SIGTERM stops it, and all it started, within seconds.

    python scripts/stoppable.py [--grace 6] -- dagster dev ...

A shell that starts a job in the background makes it ignore SIGINT, and `dagster dev` then
ignores SIGTERM too (it maps SIGTERM to SIGINT's handler), so `make dev` could not be stopped.
This starts the command in its own process group with both signals at their defaults, passes a
stop signal on to that group, and kills what still runs after `--grace` seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grace", type=float, default=6.0, help="seconds before a kill")
    parser.add_argument("command", nargs="+", help="the command to run, after --")
    args = parser.parse_args(argv)
    stops: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda received, _: stops.append(received))
    # a handled signal is at its default in the command (exec resets it), an ignored one is not
    child = subprocess.Popen(args.command, start_new_session=True)
    while child.poll() is None and not stops:
        time.sleep(0.1)
    if child.poll() is not None:
        return child.returncode
    _signal_group(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + args.grace
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    _signal_group(child.pid, signal.SIGKILL)  # what the command left behind, or itself
    child.wait()
    return 128 + stops[0]


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


if __name__ == "__main__":
    sys.exit(main())
