"""Processes that tests and benchmarks start: on 127.0.0.1, each in its own process group, and
always stopped with everything it started (a code server, a run)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path


def free_port() -> int:
    """A port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: Sequence[str], *, log: Path | None = None, **popen) -> subprocess.Popen:
    """`command` in a process group of its own; its output to `log` when given."""
    if log is not None:
        with log.open("w") as out:
            return subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **popen
            )
    return subprocess.Popen(command, start_new_session=True, **popen)


def stop(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM to the process's group, then SIGKILL to what is left after `grace` seconds."""
    if grace > 0:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):  # the process, or what it left behind
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextlib.contextmanager
def running(
    command: Sequence[str], *, grace: float = 10.0, **options
) -> Iterator[subprocess.Popen]:
    """`command` started as `start` starts it until the block ends; then stopped."""
    process = start(command, **options)
    try:
        yield process
    finally:
        stop(process, grace)


def wait_until(
    condition: Callable[[], bool],
    seconds: float,
    *,
    process: subprocess.Popen | None = None,
    log: Path | None = None,
) -> None:
    """Poll `condition` until it holds; fail when `seconds` pass or `process` ends first,
    with `log`'s text."""
    deadline = time.monotonic() + seconds
    while not condition():
        said = log.read_text() if log is not None and log.exists() else ""
        assert process is None or process.poll() is None, f"the process ended: {said}"
        assert time.monotonic() < deadline, f"timed out after {seconds:.0f}s: {said}"
        time.sleep(0.1)


def answers(url: str) -> bool:
    """Whether something answers at `url` (any HTTP status but a failure to connect)."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
