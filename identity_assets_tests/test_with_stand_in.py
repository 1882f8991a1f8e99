"""`make run`'s wrapper: the run pushes only to the stand-in it started itself."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from identity_assets_tests import processes
from identity_assets_tests.builders import ROOT

SCRIPT = ROOT / "scripts" / "with_stand_in.py"
# posts one update with what the wrapper gave it, and says how the stand-in answered
CLIENT = (
    "import os, requests; "
    "answer = requests.post(os.environ['IDENTITY_API_URL'] + '/identifier', timeout=5, "
    "headers={'Authorization': 'Bearer ' + os.environ['IDENTITY_API_TOKEN']}, "
    "json={'platform': 'web', 'anonymous_id': 'a-1', 'count_prev_visits': True}); "
    "print('answered', answer.status_code)"
)

pytestmark = pytest.mark.slow


def wrap(port: int, *command: str) -> subprocess.CompletedProcess:
    """Run the wrapper in its own process group; the group is always stopped."""
    command = [sys.executable, str(SCRIPT), "--port", str(port), "--", *command]
    process = processes.start(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(timeout=30)
    finally:
        processes.stop(process, grace=0)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_a_taken_port_stops_at_once_and_nothing_is_sent(tmp_path: Path) -> None:
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", 0))
        foreign.listen(8)
        port = foreign.getsockname()[1]
        marker = tmp_path / "ran"
        started = time.perf_counter()
        done = wrap(port, sys.executable, "-c", f"open({str(marker)!r}, 'w')")
        assert time.perf_counter() - started < 10
        foreign.setblocking(False)
        with pytest.raises(BlockingIOError):
            foreign.accept()  # nobody connected to the process that holds the port
    assert done.returncode == 2
    assert f"could not start on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not marker.exists()


def test_the_command_runs_against_its_own_stand_in_once_it_answers() -> None:
    done = wrap(0, sys.executable, "-c", CLIENT)
    assert done.returncode == 0, done.stderr
    assert "answered 200" in done.stdout  # the token it was given is the stand-in's


def test_a_token_that_starts_with_a_dash_reaches_the_stand_in(monkeypatch, capfd) -> None:
    spec = importlib.util.spec_from_file_location("with_stand_in", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setattr(script.secrets, "token_urlsafe", lambda size: "-" + "x" * 21)
    assert script.main(["--port", "0", "--", sys.executable, "-c", CLIENT]) == 0
    assert "answered 200" in capfd.readouterr().out
