"""The metrics assets and checks run through Dagster after the stages they read."""

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from identity_assets import sql
from identity_assets.identity.assets import resolve_identity_graph
from identity_assets.ingest.assets import ingest_landed_days
from identity_assets.journal.assets import build_journals
from identity_assets.metrics.assets import value_customers
from identity_assets.metrics.checks import metrics_checks
from identity_assets.metrics.selection import CANDIDATES
from identity_assets.resources import (
    FullRefresh,
    IdentityRulesResource,
    ValueRulesResource,
    Warehouse,
)
from identity_assets_tests.builders import (
    D3,
    Landing,
    materialized_metadata,
    order,
    pipeline_resources,
    purchase_history,
)

pytestmark = pytest.mark.heavy

CHECKS = [metrics_checks]


def test_metrics_assets_materialise_with_their_story_and_checks(tmp_path: Path, landing: Landing):
    lines = [order(n, D3, 1 + n % 20, {"value": 10 + n}, user=f"u-{n % 7}") for n in range(30)] + [
        order(99, D3, 23, {"value": "n/a"})
    ]
    landing.write("a.jsonl", lines, day=D3)
    result = dg.materialize(
        [ingest_landed_days, resolve_identity_graph, build_journals, value_customers, *CHECKS],
        resources=pipeline_resources(
            tmp_path / "identity.duckdb",
            landing.root,
            identity_rules=IdentityRulesResource(),
            value_rules=ValueRulesResource(),
        ),
        partition_key=D3.isoformat(),
    )
    assert result.success
    metadata = materialized_metadata(result)
    metrics, value = metadata["customer_metrics"], metadata["customer_value"]
    assert metrics["dagster/row_count"].value == 7
    assert metrics["purchases"].value == 30
    assert "| non_numeric_value | 1 |" in metrics["unusable_purchases"].value
    too_short = "baseline: history of 1 day is shorter than 270 (3 x 90)"
    assert f"| {too_short} | 7 | 100.0 |" in value["share_by_method"].value
    assert value["chosen_model"].value == f"none: {too_short[len('baseline: ') :]}"
    assert value["model_backtest"].value == "_none_"
    assert "| band | identities | predicted_value |" in value["predicted_value_histogram"].value
    assert "percent_of_predicted_value" in value["top_decile"].value
    checks = {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}
    assert checks["predictions_valid"].passed and checks["one_metrics_row_per_identity"].passed
    warning = checks["purchase_values_usable"]
    assert not warning.passed and warning.severity == dg.AssetCheckSeverity.WARN
    assert warning.metadata["failing_rows"].value == 1
    unmatched = checks["every_purchase_rule_matches"]
    assert not unmatched.passed and unmatched.severity == dg.AssetCheckSeverity.WARN
    assert unmatched.description == "2 purchase rule(s) matched no event"
    assert "client_api_purchase" in unmatched.metadata["first_failing_rows"].value
    assert "identifier_api_purchase" in unmatched.metadata["first_failing_rows"].value
    assert "segment_order" not in unmatched.metadata["first_failing_rows"].value
    untrusted = checks["value_model_trusted"]
    assert not untrusted.passed and untrusted.severity == dg.AssetCheckSeverity.WARN
    assert f"| {too_short} | 7 |" in untrusted.metadata["first_failing_rows"].value
    blocking = {spec.name: spec.blocking for check in CHECKS for spec in check.check_specs}
    assert blocking == {
        "predictions_valid": True,
        "one_metrics_row_per_identity": True,
        "purchase_values_usable": False,
        "every_purchase_rule_matches": False,
        "value_model_trusted": False,
    }


def test_the_model_backtest_is_in_the_metadata(tmp_path: Path) -> None:
    database = str(tmp_path / "identity.duckdb")
    with duckdb.connect(database) as conn:
        purchase_history(conn)
    result = dg.materialize(
        [value_customers, *CHECKS],
        resources={
            "warehouse": Warehouse(database=database),
            "full_refresh": FullRefresh(),
            "value_rules": ValueRulesResource(),
        },
    )
    assert result.success
    value = materialized_metadata(result)["customer_value"]
    table = value["model_backtest"].value
    chosen = value["chosen_model"].value
    assert table.startswith("| candidate | MAE | RMSE | Spearman | predicted | actual | total |")
    for candidate in CANDIDATES:  # every candidate with its scores, the chosen one marked
        (line,) = [row for row in table.splitlines() if row.startswith(f"| {candidate} |")]
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert len(cells) == 8 and all(cells[1:7])
        assert (cells[7] == "chosen") == (candidate == chosen)
    assert value["backtest_cut"].value != "none" and value["history_days"].value >= 270
    # when the parameters were fitted and why: a first fit on this warehouse
    assert value["fitted_at"].value.startswith("2026-")
    assert value["fit_reason"].value == "refitted: no fit under these rules yet"


@pytest.mark.parametrize("people", [0, 1, 9, 10, 11, 95])
def test_the_top_decile_is_the_first_tenth_of_everyone_by_value(people) -> None:
    """ntile(10)'s first tenth: the ceil(n / 10) highest values, ties included once each."""
    values = [float((n * 37) % 23) for n in range(people)]
    conn = duckdb.connect()
    conn.execute("create table customer_value (identity_id varchar, predicted_90d_value double)")
    if values:
        conn.executemany(
            "insert into customer_value values (?, ?)",
            [(f"id-{n:03d}", value) for n, value in enumerate(values)],
        )
    top = sorted(values, reverse=True)[: -(-people // 10)]
    expected = (
        (
            len(top),
            round(min(top), 2),
            round(sum(top) / len(top), 2),
            round(100 * sum(top) / sum(values), 1) if sum(values) else None,
        )
        if top
        else (0, None, None, None)
    )
    assert conn.execute(sql.load("metrics/top_decile")).fetchall() == [expected]
