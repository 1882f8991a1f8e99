"""The Dagster UI for real: a webserver on 127.0.0.1 launches the whole graph for one day."""

from __future__ import annotations

from pathlib import Path

import pytest

from identity_assets.definitions import DAILY_JOB_NAME
from identity_assets.sample import SampleConfig, write_sample
from identity_assets_tests.dagster_ui import dagster_ui


@pytest.mark.slow
def test_a_day_launched_from_the_ui_materialises_everything_with_its_checks(
    tmp_path: Path,
) -> None:
    landing = tmp_path / "landing"
    write_sample(landing, SampleConfig(people=80, days=2, history_days=20))
    env = {
        "IDENTITY_LANDING_DIR": str(landing),
        "IDENTITY_DUCKDB_PATH": str(tmp_path / "identity.duckdb"),
        "IDENTITY_API_TOKEN": "",
    }
    with dagster_ui(tmp_path, env) as ui:
        paths = {
            "/".join(n["assetKey"]["path"])
            for n in ui.query("{ assetNodes { assetKey { path } } }")["assetNodes"]
        }
        assert {"raw_events", "identity_map", "identity_journal", "customer_value",
                "segment_updates"} <= paths  # fmt: skip
        run_id = ui.launch_partition(DAILY_JOB_NAME, "2026-11-20")
        assert ui.wait_for_run(run_id) == "SUCCESS"
        checks = ui.check_results()
        identities = ui.latest_metadata("identities")
        value = ui.latest_metadata("customer_value")
    blocking = {name: ok for name, (ok, severity) in checks.items() if severity == "ERROR"}
    assert len(blocking) >= 10 and all(blocking.values()), checks
    assert identities["dagster/row_count"] > 0
    assert "| method | identities | percent |" in value["share_by_method"]
