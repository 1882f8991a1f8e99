"""The journal assets and checks run through Dagster after the stages they follow."""

from pathlib import Path

import dagster as dg
import pytest

from identity_assets.identity.assets import resolve_identity_graph
from identity_assets.ingest.assets import ingest_landed_days
from identity_assets.journal.assets import build_journals
from identity_assets.journal.checks import journal_checks
from identity_assets.resources import (
    IdentityRulesResource,
    Warehouse,
)
from identity_assets_tests.builders import (
    D1,
    Landing,
    identify,
    materialized_metadata,
    pipeline_resources,
    track,
)

pytestmark = pytest.mark.heavy

CHECKS = [journal_checks]


def test_journal_assets_materialise_with_their_story_and_checks(tmp_path: Path, landing: Landing):
    landing.write(
        "a.jsonl",
        [
            identify(1, D1, {"firstName": "Ann", "plan": "pro"}, userId="u-1"),
            *[track(n, D1, userId="u-1") for n in range(2, 5)],
            track(5, D1, userId="u-2"),
        ],
        day=D1,
    )
    warehouse = Warehouse(database=str(tmp_path / "identity.duckdb"))
    result = dg.materialize(
        [ingest_landed_days, resolve_identity_graph, build_journals, *CHECKS],
        resources=pipeline_resources(
            warehouse, landing.root, identity_rules=IdentityRulesResource()
        ),
        partition_key=D1.isoformat(),
    )
    assert result.success
    metadata = materialized_metadata(result)
    journal = metadata["identity_journal"]
    assert journal["dagster/row_count"].value == 5
    assert journal["rows_inserted"].value == 5
    assert journal["busiest_identity"].value.endswith("(4 events)")
    assert journal["busiest_identity_journal"].value.count("| segment |") == 4
    assert "| segment | 5 | 2 |" in journal["events_by_source"].value  # events, identities
    profiles = metadata["customer_profiles"]
    assert profiles["dagster/row_count"].value == 2
    assert profiles["profiles_rebuilt"].value == 2  # a first build reads every journal
    assert "| first_name | 1 | 50.0 |" in profiles["trait_coverage"].value
    assert "| plan | 1 | 50.0 |" in profiles["trait_coverage"].value
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "journal_identities_exist": True,
        "journal_covers_linked_events": True,
        "one_profile_per_identity": True,
    }


def test_the_journal_checks_block_and_find_a_broken_journal(tmp_path: Path, landing: Landing):
    landing.write("a.jsonl", [track(1, D1, userId="u-1"), track(2, D1, userId="u-2")], day=D1)
    warehouse = Warehouse(database=str(tmp_path / "identity.duckdb"))
    resources = pipeline_resources(warehouse, landing.root, identity_rules=IdentityRulesResource())
    dg.materialize(
        [ingest_landed_days, resolve_identity_graph, build_journals],
        resources=resources,
        partition_key=D1.isoformat(),
    )
    with warehouse.get_connection() as conn:
        conn.execute(
            "insert into identity_journal select * from identity_journal "
            "where event_id = (select min(event_id) from identity_journal)"
        )
        conn.execute(
            "update identity_journal set identity_id = 'id-gone' where event_id = ("
            "select max(event_id) from identity_journal)"
        )
        conn.execute(
            "delete from customer_profiles where identity_id = ("
            "select min(identity_id) from customer_profiles)"
        )
    result = dg.materialize(
        [build_journals, *CHECKS],
        resources=resources,
        selection=dg.AssetSelection.checks(*CHECKS),
        raise_on_error=False,
    )
    failing = {
        e.asset_check_key.name: e.metadata["failing_rows"].value
        for e in result.get_asset_check_evaluations()
        if not e.passed
    }
    assert failing == {
        "journal_identities_exist": 1,
        "journal_covers_linked_events": 2,  # the doubled row, and the row of an unknown identity
        "one_profile_per_identity": 1,
    }
    blocking = {spec.name: spec.blocking for check in CHECKS for spec in check.check_specs}
    assert all(blocking.values())


def test_each_run_reports_how_rows_changed_since_the_last(tmp_path: Path, landing: Landing):
    instance = dg.DagsterInstance.ephemeral()
    resources = pipeline_resources(
        tmp_path / "identity.duckdb", landing.root, identity_rules=IdentityRulesResource()
    )
    assets = [ingest_landed_days, resolve_identity_graph, build_journals]
    landing.write("a.jsonl", [track(1, D1, userId="u-1"), track(2, D1, userId="u-2")], day=D1)
    first = dg.materialize(assets, resources=resources, partition_key=D1.isoformat(),
                           instance=instance)  # fmt: skip
    assert "row_count_change" not in materialized_metadata(first)["identities"]
    landing.write("b.jsonl", [track(3, D1, userId="u-3"), track(4, D1, userId="u-1")], day=D1)
    second = dg.materialize(assets, resources=resources, partition_key=D1.isoformat(),
                            instance=instance)  # fmt: skip
    metadata = materialized_metadata(second)
    assert metadata["identities"]["row_count_change"].value == 1
    assert metadata["identity_journal"]["row_count_change"].value == 2
