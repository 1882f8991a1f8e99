"""A real `dagster-webserver` for tests and the screenshot script: started on 127.0.0.1 in its
own process group, driven over GraphQL, and always stopped."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from identity_assets_tests.builders import ROOT, dagster_home
from identity_assets_tests.processes import free_port, running

WEBSERVER = Path(sys.executable).with_name("dagster-webserver")
LOCATION = "identity_assets.definitions"
# Runs launched from the UI start at once in their own process; `dagster dev` would queue them
# for its daemon, which a bare webserver does not run. The event log is the project's: the
# run's process writes it while the webserver reads it.
INSTANCE = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
event_log_storage:
  module: identity_assets.event_log
  class: KeptOpenSqliteEventLogStorage
"""
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
RUN_STATUS = "query Run($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
CHECKS = """
{ assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks {
    name executionForLatestMaterialization { status evaluation { success severity } } } } } } }
"""
METADATA = """
query Meta($path: [String!]!) { assetOrError(assetKey: {path: $path}) { ... on Asset {
  assetMaterializations(limit: 1) { runId metadataEntries { label
    ... on IntMetadataEntry { intValue } ... on MarkdownMetadataEntry { mdStr } } } } } }
"""


class DagsterUI:
    """A running webserver's GraphQL endpoint."""

    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, text: str, variables: dict | None = None) -> dict:
        answer = requests.post(
            self.url + "/graphql", json={"query": text, "variables": variables or {}}, timeout=60
        )
        answer.raise_for_status()
        body = answer.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def wait_until_ready(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                if self.query("{ assetNodes { id } }")["assetNodes"]:
                    return
            except (requests.RequestException, RuntimeError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"dagster-webserver did not answer at {self.url}")
            time.sleep(0.5)

    def launch_partition(self, job: str, partition: str) -> str:
        params = {
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": "__repository__",
                "jobName": job,
            },
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
            "runConfigData": {},
        }
        launched = self.query(LAUNCH, {"params": params})["launchRun"]
        if launched["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"launching {job} failed: {launched}")
        return launched["run"]["runId"]

    def wait_for_run(self, run_id: str, seconds: float = 300) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            status = self.query(RUN_STATUS, {"id": run_id})["runOrError"]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                return status
            time.sleep(1)
        raise TimeoutError(f"run {run_id} did not finish in {seconds:.0f}s")

    def check_results(self) -> dict[str, tuple[bool, str]]:
        results = {}
        for node in self.query(CHECKS)["assetNodes"]:
            for check in (node["assetChecksOrError"] or {}).get("checks", []):
                execution = check["executionForLatestMaterialization"] or {}
                evaluation = execution.get("evaluation") or {}
                results[check["name"]] = (evaluation.get("success"), evaluation.get("severity"))
        return results

    def latest_metadata(self, asset: str) -> dict[str, object]:
        asset_data = self.query(METADATA, {"path": [asset]})["assetOrError"]
        (latest,) = asset_data["assetMaterializations"]
        return {
            entry["label"]: entry.get("intValue", entry.get("mdStr"))
            for entry in latest["metadataEntries"]
        }


@contextmanager
def dagster_ui(workdir: Path, env: dict[str, str]) -> Iterator[DagsterUI]:
    """Start dagster-webserver over the project's workspace; stop its process group after."""
    home = dagster_home(workdir / "dagster_home", INSTANCE)
    port = free_port()
    command = [
        str(WEBSERVER),
        "-w",
        str(ROOT / "workspace.yaml"),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    with running(
        command,
        grace=20,
        cwd=ROOT,
        env={**os.environ, **env, "DAGSTER_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ):
        ui = DagsterUI(f"http://127.0.0.1:{port}")
        ui.wait_until_ready()
        yield ui
