"""The ingest assets and checks run through Dagster on a tmp_path warehouse."""

from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from identity_assets.ingest.assets import ingest_landed_days
from identity_assets.ingest.checks import lines_balance, one_row_per_event
from identity_assets.resources import LandingDirectory, Warehouse
from identity_assets_tests.conftest import Landing, materialized_metadata
from identity_assets_tests.ingest.test_core import EVENTS, IDENTIFIER, IDENTIFY, TRACK


@pytest.fixture
def resources(tmp_path: Path, landing: Landing) -> dict[str, object]:
    return {
        "warehouse": Warehouse(database=str(tmp_path / "wh" / "identity.duckdb")),
        "landing": LandingDirectory(path=str(landing.root)),
    }


def test_a_partition_range_is_one_run_with_story_metadata(landing: Landing, resources) -> None:
    landing.write("a.jsonl", [IDENTIFY, TRACK, "oops"], day=date(2026, 11, 19))
    landing.write("b.ndjson.gz", [EVENTS, IDENTIFIER, [1]], day=date(2026, 11, 20))
    result = dg.materialize(
        [ingest_landed_days, lines_balance, one_row_per_event],
        resources=resources,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: "2026-11-19",
            ASSET_PARTITION_RANGE_END_TAG: "2026-11-20",
        },
    )
    assert result.success
    by_asset = materialized_metadata(result)
    events = by_asset["raw_events"]
    assert events["dagster/row_count"].value == 6
    assert events["lines_read"].value == 6
    assert "| client_api | 3 |" in events["events_by_source"].value
    assert "Product Purchased" in events["preview"].value
    rejects = by_asset["raw_event_rejects"]
    assert rejects["dagster/row_count"].value == 2
    assert "| not_an_object | 2 |" in rejects["rejects_by_reason"].value
    assert by_asset["raw_files"]["files"].value == 2
    evaluations = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == {"lines_balance": True, "one_row_per_event": True}


def test_checks_fail_and_name_the_rows_when_the_rules_break(landing: Landing, resources) -> None:
    landing.write("a.jsonl", [IDENTIFY, TRACK, "oops"])
    dg.materialize([ingest_landed_days], resources=resources, partition_key="2026-11-20")
    warehouse: Warehouse = resources["warehouse"]
    with warehouse.get_connection() as conn:
        conn.execute("delete from raw_event_rejects")
        conn.execute("insert into raw_events select * from raw_events limit 1")

    balance = lines_balance(warehouse=warehouse)
    assert not balance.passed
    assert balance.metadata["failing_rows"].value == 1
    assert "2026-11-20/a.jsonl" in balance.metadata["first_failing_rows"].value
    duplicates = one_row_per_event(warehouse=warehouse)
    assert not duplicates.passed
    assert duplicates.metadata["failing_rows"].value == 1


def test_ingest_checks_are_blocking() -> None:
    specs = [*lines_balance.check_specs, *one_row_per_event.check_specs]
    assert all(spec.blocking for spec in specs)
