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
from identity_assets.ingest.checks import ingest_checks
from identity_assets.resources import Warehouse
from identity_assets_tests.builders import (
    EVENTS,
    IDENTIFIER,
    IDENTIFY,
    TRACK,
    Landing,
    pipeline_resources,
    run_checks,
)


@pytest.fixture
def resources(tmp_path: Path, landing: Landing) -> dict[str, object]:
    return pipeline_resources(tmp_path / "wh" / "identity.duckdb", landing.root)


def test_a_range_run_records_each_days_own_figures(landing: Landing, resources) -> None:
    landing.write("a.jsonl", [IDENTIFY, TRACK, "oops"], day=date(2026, 11, 19))
    landing.write("b.ndjson.gz", [EVENTS, IDENTIFIER, [1]], day=date(2026, 11, 20))
    landing.write("c.jsonl", ["late"], day=date(2026, 11, 20))
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [ingest_landed_days, ingest_checks],
        resources=resources,
        instance=instance,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: "2026-11-19",
            ASSET_PARTITION_RANGE_END_TAG: "2026-11-20",
        },
    )
    assert result.success

    def recorded(asset: str, day: str) -> dict:
        (record,) = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[day]), limit=1
        ).records
        return record.asset_materialization.metadata

    first, second = recorded("raw_events", "2026-11-19"), recorded("raw_events", "2026-11-20")
    assert (first["dagster/row_count"].value, second["dagster/row_count"].value) == (2, 4)
    assert (first["lines_read"].value, second["lines_read"].value) == (3, 4)
    assert "| client_api | 3 |" in second["events_by_source"].value
    assert "client_api" not in first["events_by_source"].value
    assert first["days_in_run"].value == 2
    assert "Product Purchased" in second["preview"].value
    rejects = (
        recorded("raw_event_rejects", "2026-11-19"),
        recorded("raw_event_rejects", "2026-11-20"),
    )
    assert [r["dagster/row_count"].value for r in rejects] == [1, 2]
    assert "| not_an_object | 2 |" in rejects[1]["rejects_by_reason"].value
    files = recorded("raw_files", "2026-11-19"), recorded("raw_files", "2026-11-20")
    assert [f["files"].value for f in files] == [1, 2]
    evaluations = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == {"lines_balance": True, "one_row_per_event": True}


def test_checks_fail_and_name_the_rows_when_the_rules_break(landing: Landing, resources) -> None:
    landing.write("a.jsonl", [IDENTIFY, TRACK, "oops"])
    dg.materialize([ingest_landed_days], resources=resources, partition_key="2026-11-20")
    warehouse: Warehouse = resources["warehouse"]
    with warehouse.get_connection() as conn:
        conn.execute("delete from raw_event_rejects")
        conn.execute("insert into raw_events select * from raw_events limit 1")

    evaluations = run_checks([ingest_checks], warehouse)
    balance, duplicates = evaluations["lines_balance"], evaluations["one_row_per_event"]
    assert not balance.passed
    assert balance.metadata["failing_rows"].value == 1
    assert "2026-11-20/a.jsonl" in balance.metadata["first_failing_rows"].value
    assert not duplicates.passed
    assert duplicates.metadata["failing_rows"].value == 1


def test_ingest_checks_are_blocking() -> None:
    specs = list(ingest_checks.check_specs)
    assert all(spec.blocking for spec in specs)
