"""A real stand-in identifier API on 127.0.0.1 in its own process group."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from collections.abc import Callable, Iterator

import pytest

from identity_assets_tests import processes
from identity_assets_tests.builders import CLI, TOKEN


class StandIn:
    """A running `identity-assets dev-endpoint` process."""

    def __init__(self, process: subprocess.Popen, url: str) -> None:
        self.process = process
        self.url = url

    def stats(self) -> dict:
        with urllib.request.urlopen(self.url + "/stats", timeout=5) as answer:
            return json.loads(answer.read())


@pytest.fixture
def stand_in() -> Iterator[Callable[..., StandIn]]:
    """Start stand-ins with the given dev-endpoint flags; every one is stopped afterwards."""
    started: list[subprocess.Popen] = []

    def start(*flags: str) -> StandIn:
        process = processes.start(
            [str(CLI), "dev-endpoint", "--port", "0", "--token", TOKEN, *flags],
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/api/v1", line)
        assert match, f"the stand-in did not start: {line!r}"
        return StandIn(process, f"http://127.0.0.1:{match.group(1)}/api/v1")

    yield start
    for process in started:
        processes.stop(process)
