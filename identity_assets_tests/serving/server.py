"""`identity-assets serve` started as a user starts it, on 127.0.0.1 in its own process group."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CLI = Path(sys.executable).with_name("identity-assets")
BEARER = "journal-token-5f1c"
PARTNER, REQUEST_TOKEN = "mybrand", "1a2b3c4d5e6f"


@dataclass
class Answer:
    status: int
    body: object
    headers: dict[str, str]


@dataclass
class Server:
    url: str
    log: Path

    def post(self, path: str, body: object, headers: dict[str, str] | None = None) -> Answer:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        return _answer(request)

    def get(self, path: str) -> Answer:
        return _answer(urllib.request.Request(self.url + path))

    def journal(self, body: object, token: str = BEARER) -> Answer:
        return self.post("/api/v1/identifier", body, {"Authorization": f"Bearer {token}"})

    def profile(self, body: object, partner=PARTNER, token=REQUEST_TOKEN) -> Answer:
        headers = {"X-PARTNER-NAME": partner, "X-REQUEST-TOKEN": token}
        return self.post("/api/user/v1/profile", body, headers)


def _answer(request: urllib.request.Request) -> Answer:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, json.loads(response.read()), _headers(response.headers))
    except urllib.error.HTTPError as error:
        return Answer(error.code, json.loads(error.read()), _headers(error.headers))


def _headers(message) -> dict[str, str]:
    """Header names in lower case: HTTP's are case-insensitive."""
    return {name.lower(): value for name, value in message.items()}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_env(warehouse: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "IDENTITY_DUCKDB_PATH": str(warehouse),
        "IDENTITY_SERVE_TOKENS": f"{BEARER},second-journal-token",
        "IDENTITY_SERVE_PROFILE_TOKENS": f"{PARTNER}:{REQUEST_TOKEN}",
        **extra,
    }


@contextlib.contextmanager
def running_server(warehouse: Path, log: Path, **extra: str) -> Iterator[Server]:
    """The service over `warehouse`'s snapshots until the block ends; then it is stopped."""
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(CLI), "serve", "--port", str(port)],
            env=serve_env(warehouse, **extra),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        server = Server(f"http://127.0.0.1:{port}", log)
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(OSError):
                server.get("/healthz")
                break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
