"""Run a command against a stand-in identifier API this script started itself (`make run`).

    python scripts/with_stand_in.py [--port 8787] -- identity-assets run --all

It starts `identity-assets dev-endpoint` in its own process group with a fresh random token,
waits until that process says where it listens and answers there, then runs the command with
IDENTITY_API_URL and IDENTITY_API_TOKEN pointing at it, and stops the stand-in at the end.
The URL comes from the stand-in's own first line, so the token never goes to a process this
script did not start: when the port is taken the stand-in cannot listen, and the script stops
at once with exit 2 and sends nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import selectors
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

READY_SECONDS = 30.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8787, help="the stand-in's port (0: any)")
    parser.add_argument("command", nargs="+", help="the command to run, after --")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # the stand-in is stopped on SIGTERM too
    token = secrets.token_urlsafe(16)
    cli = Path(sys.executable).with_name("identity-assets")
    stand_in = subprocess.Popen(
        [
            str(cli),
            "dev-endpoint",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.port),
            f"--token={token}",  # one argument: a token may start with "-"
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        url = _ready(stand_in)
        if url is None:
            print(
                f"with_stand_in: the stand-in identifier API could not start on 127.0.0.1:"
                f"{args.port} (is the port taken? free it or pass another --port); "
                "nothing was run or sent",
                file=sys.stderr,
            )
            return 2
        print(f"with_stand_in: stand-in identifier API ready at {url}", flush=True)
        env = {**os.environ, "IDENTITY_API_URL": url, "IDENTITY_API_TOKEN": token}
        command = subprocess.Popen(args.command, env=env)
        try:
            return command.wait()
        except KeyboardInterrupt:
            # a stop for this script alone reaches the command too, which stops cleanly
            if command.poll() is None:
                command.send_signal(signal.SIGTERM)
            try:
                return command.wait(timeout=15)
            except subprocess.TimeoutExpired:
                command.kill()
                return command.wait()
    finally:
        _stop(stand_in)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _ready(stand_in: subprocess.Popen) -> str | None:
    """The stand-in's URL once it answers there, or None when it exits or stays silent."""
    deadline = time.monotonic() + READY_SECONDS
    selector = selectors.DefaultSelector()
    selector.register(stand_in.stdout, selectors.EVENT_READ)
    if not selector.select(timeout=READY_SECONDS):
        return None
    match = re.search(r"http://127\.0\.0\.1:\d+/api/v1", stand_in.stdout.readline())
    if not match:
        return None
    while time.monotonic() < deadline and stand_in.poll() is None:
        try:
            with urllib.request.urlopen(match.group(0) + "/stats", timeout=2) as answer:
                if answer.status == 200:
                    return match.group(0)
        except OSError:
            time.sleep(0.1)
    return None


def _stop(stand_in: subprocess.Popen) -> None:
    try:
        os.killpg(stand_in.pid, signal.SIGTERM)
        stand_in.wait(timeout=10)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(stand_in.pid, signal.SIGKILL)
        stand_in.wait()


if __name__ == "__main__":
    sys.exit(main())
