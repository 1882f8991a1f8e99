"""`identity-assets serve` started as a user starts it, on 127.0.0.1 in its own process group."""

from __future__ import annotations

import contextlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from identity_assets_tests.builders import CLI
from identity_assets_tests.processes import answers, free_port, running, wait_until

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
    command = [str(CLI), "serve", "--port", str(port)]
    with running(command, grace=20, log=log, env=serve_env(warehouse, **extra)) as process:
        server = Server(f"http://127.0.0.1:{port}", log)
        wait_until(lambda: answers(server.url + "/healthz"), 60, process=process, log=log)
        yield server
