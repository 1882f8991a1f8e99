"""The Dagster webserver serves the project: started for real on 127.0.0.1, read over GraphQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
WEBSERVER = Path(sys.executable).with_name("dagster-webserver")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_webserver_lists_the_assets_over_graphql(tmp_path: Path) -> None:
    port = free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "IDENTITY_LANDING_DIR": str(tmp_path / "landing"),
        "IDENTITY_DUCKDB_PATH": str(tmp_path / "identity.duckdb"),
    }
    server = subprocess.Popen(
        [str(WEBSERVER), "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        paths = _asset_paths(f"http://127.0.0.1:{port}/graphql", deadline=time.monotonic() + 120)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    assert {"raw_events", "raw_event_rejects", "raw_files", "identity_map", "identities"} <= paths


def _asset_paths(url: str, deadline: float) -> set[str]:
    query = {"query": "{ assetNodes { assetKey { path } } }"}
    while True:
        try:
            answer = requests.post(url, json=query, timeout=5)
            if answer.ok and answer.json().get("data", {}).get("assetNodes"):
                return {
                    "/".join(n["assetKey"]["path"]) for n in answer.json()["data"]["assetNodes"]
                }
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"dagster-webserver did not answer GraphQL at {url}")
        time.sleep(0.5)
