"""The identity assets and checks run through Dagster after the ingest they depend on."""

from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from identity_assets.identity.assets import resolve_identity_graph
from identity_assets.identity.checks import identity_checks
from identity_assets.ingest.assets import ingest_landed_days
from identity_assets.resources import (
    IdentityRulesResource,
    Warehouse,
)
from identity_assets_tests.builders import Landing, materialized_metadata, pipeline_resources, track

pytestmark = pytest.mark.heavy

CHECKS = [identity_checks]


def test_identity_assets_materialise_with_their_story_and_checks(tmp_path: Path, landing: Landing):
    day = date(2026, 11, 20)
    landing.write(
        "a.jsonl",
        [
            track(1, day, userId="u-1", anonymousId="a-1", email=" Ann@Example.com "),
            track(2, day, userId="u-2", anonymousId="undefined"),
            *[track(3 + n, day, userId=f"u-{3 + n}", device="kiosk") for n in range(3)],
        ],
        day=day,
    )
    warehouse = Warehouse(database=str(tmp_path / "identity.duckdb"))
    result = dg.materialize(
        [ingest_landed_days, resolve_identity_graph, *CHECKS],
        resources=pipeline_resources(
            warehouse,
            landing.root,
            identity_rules=IdentityRulesResource(max_linked_values=2, max_identity_size=2),
        ),
        partition_key="2026-11-20",
        raise_on_error=False,
    )
    assert not result.success  # the over-merge check blocks
    metadata = materialized_metadata(result)
    assert metadata["identities"]["dagster/row_count"].value == 5
    assert "| placeholder | 1 |" in metadata["identifiers"]["blocked_by_reason"].value
    assert (
        "shared: seen with 3 user_id values" in metadata["identifiers"]["blocked_by_reason"].value
    )
    assert "largest_identities" in metadata["identities"]
    checks = {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}
    assert all(checks[name].passed for name in checks if name != "largest_identity_within_limit")
    too_big = checks["largest_identity_within_limit"]
    assert not too_big.passed and too_big.severity == dg.AssetCheckSeverity.ERROR
    assert too_big.metadata["failing_rows"].value == 1


def test_graph_checks_are_blocking() -> None:
    blocking = {spec.name: spec.blocking for check in CHECKS for spec in check.check_specs}
    assert blocking == {
        "one_identity_per_identifier": True,
        "no_blocked_identifier_linked": True,
        "every_identity_summarised": True,
        "largest_identity_within_limit": True,
        "identities_within_limits": True,
        "refused_links_kept_apart": True,
    }
