"""Declared column schemas are the tables that the stages' create_tables.sql make, and every
materialization records its table's columns for the column schema change checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from identity_assets.definitions import ASSETS, defs
from identity_assets.ingest.assets import ingest_landed_days
from identity_assets.metadata import table_schema, table_schemas
from identity_assets.resources import (
    IdentifierApi,
    IdentityRulesResource,
    SegmentRulesResource,
    ValueRulesResource,
    Warehouse,
)
from identity_assets_tests.builders import (
    DAY,
    EVENTS,
    IDENTIFIER,
    IDENTIFY,
    TRACK,
    Landing,
    connect,
    pipeline_resources,
)

# Every asset is a warehouse table but the serving snapshot, a DuckDB file of its own.
ASSET_NAMES = sorted(
    key.to_user_string()
    for key in defs.resolve_asset_graph().get_all_asset_keys()
    if key.to_user_string() != "serving_snapshot"
)


@dataclass(frozen=True)
class PipelineRun:
    instance: dg.DagsterInstance
    warehouse: Path


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    root = tmp_path_factory.mktemp("schemas")
    landing = Landing(root / "landing")
    landing.write("a.jsonl", [IDENTIFY, TRACK, EVENTS, IDENTIFIER])
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        ASSETS,
        resources=pipeline_resources(
            root / "identity.duckdb",
            landing.root,
            identity_rules=IdentityRulesResource(),
            value_rules=ValueRulesResource(),
            segment_rules=SegmentRulesResource(),
            identifier_api=IdentifierApi(url="http://127.0.0.1:9/api/v1"),
        ),
        partition_key=DAY.isoformat(),
        instance=instance,
    )
    assert result.success
    return PipelineRun(instance, root / "identity.duckdb")


def _actual(run: PipelineRun, table: str) -> dg.TableSchema:
    with duckdb.connect(str(run.warehouse), read_only=True) as conn:
        return table_schemas(conn)[table]


def _names_and_types(schema: dg.TableSchema) -> list[tuple[str, str]]:
    return [(column.name, column.type) for column in schema.columns]


@pytest.mark.parametrize(
    "asset",
    ASSET_NAMES,
)
def test_the_declared_columns_are_the_tables_after_a_pipeline_run(pipeline_run, asset) -> None:
    declared = defs.resolve_asset_graph().get(dg.AssetKey(asset)).metadata
    assert _names_and_types(declared["dagster/column_schema"]) == _names_and_types(
        _actual(pipeline_run, asset)
    )


@pytest.mark.parametrize(
    "asset",
    ASSET_NAMES,
)
def test_each_materialization_records_its_tables_columns(pipeline_run, asset) -> None:
    event = pipeline_run.instance.get_latest_materialization_event(dg.AssetKey(asset))
    recorded = event.asset_materialization.metadata.get("dagster/column_schema")
    assert recorded is not None
    assert recorded.schema == _actual(pipeline_run, asset)


def test_every_asset_has_a_column_schema_change_check() -> None:
    checks = defs.resolve_asset_graph().asset_check_keys
    for asset in ASSET_NAMES:
        assert dg.AssetCheckKey(dg.AssetKey(asset), "column_schema_change") in checks, asset


def test_a_column_added_to_a_table_fails_its_schema_change_check(
    tmp_path: Path, landing: Landing
) -> None:
    landing.write("a.jsonl", [IDENTIFY, TRACK])
    warehouse = Warehouse(database=str(tmp_path / "identity.duckdb"))
    instance = dg.DagsterInstance.ephemeral()
    checks = dg.build_column_schema_change_checks(assets=[ingest_landed_days])

    def run() -> dict[str, dg.AssetCheckEvaluation]:
        result = dg.materialize(
            [ingest_landed_days, *checks],
            resources=pipeline_resources(warehouse, landing.root),
            partition_key=DAY.isoformat(),
            instance=instance,
        )
        return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}

    run()
    assert all(evaluation.passed for evaluation in run().values())
    with warehouse.get_connection() as conn:
        conn.execute("alter table raw_files add column note varchar")
    evaluations = run()
    assert not evaluations["raw_files"].passed
    assert "Added columns: note" in evaluations["raw_files"].description
    assert evaluations["raw_events"].passed and evaluations["raw_event_rejects"].passed


def test_a_tables_columns_come_with_their_type_comment_and_nullability() -> None:
    with connect() as conn:
        conn.execute(
            "create table t (a varchar not null, b json, c integer[]); "
            "comment on column t.a is 'the a''s description'"
        )
        (schema,) = table_schemas(conn).values()
    assert [(c.name, c.type, c.description, c.constraints.nullable) for c in schema.columns] == [
        ("a", "varchar", "the a's description", False),
        ("b", "json", None, True),
        ("c", "integer[]", None, True),
    ]


def test_a_table_no_stage_creates_is_named() -> None:
    with pytest.raises(KeyError, match="no_such_table"):
        table_schema("no_such_table")


def test_a_stage_runs_its_create_tables_once_per_version_of_the_file(monkeypatch) -> None:
    from identity_assets import sql

    with connect() as conn:
        sql.create_tables(conn, "metrics")
        conn.execute("comment on column customer_metrics.total_spend is 'changed here'")
        sql.create_tables(conn, "metrics")
        comment = "select comment from duckdb_columns() where column_name = 'total_spend' "
        comment += "and table_name = 'customer_metrics'"
        assert conn.execute(comment).fetchall() == [("changed here",)]

        edited = sql.load("metrics/create_tables") + "\nselect 1;"
        monkeypatch.setattr(sql, "load", lambda name: edited)
        sql.create_tables(conn, "metrics")
        assert conn.execute(comment).fetchall() != [("changed here",)]
