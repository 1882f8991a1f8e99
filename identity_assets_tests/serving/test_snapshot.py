"""The serving snapshot: published after the journal when its inputs moved, switched atomically,
checked against the warehouse, and read without the warehouse."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from identity_assets.identity.assets import resolve_identity_graph
from identity_assets.identity.normalise import uid2_hash
from identity_assets.ingest.assets import ingest_landed_days
from identity_assets.journal.assets import build_journals
from identity_assets.journal.lookup import journal_response
from identity_assets.resources import (
    IdentityRulesResource,
    Warehouse,
)
from identity_assets.serving.assets import (
    every_identity_served,
    serving_snapshot,
    snapshot_counts_match,
)
from identity_assets.serving.snapshot import (
    POINTER,
    SnapshotSource,
    open_current,
    read_pointer,
)
from identity_assets_tests.builders import (
    D1,
    D2,
    D3,
    Landing,
    materialized_metadata,
    pipeline_resources,
    track,
)

ASSETS = [ingest_landed_days, resolve_identity_graph, build_journals, serving_snapshot]
CHECKS = [snapshot_counts_match, every_identity_served]


class Pipeline:
    """The stages up to the snapshot over a landing directory, one day at a time."""

    def __init__(self, tmp_path: Path, landing: Landing, phone_region: str = "US") -> None:
        self.landing = landing
        self.warehouse = Warehouse(database=str(tmp_path / "data" / "identity.duckdb"))
        self.serving = tmp_path / "data" / "serving"
        self.instance = dg.DagsterInstance.ephemeral()
        self.resources = pipeline_resources(
            self.warehouse,
            landing.root,
            identity_rules=IdentityRulesResource(phone_region=phone_region),
        )

    def run(self, day: date, events: list[dict] | None = None) -> dg.ExecuteInProcessResult:
        if events is not None:
            self.landing.write(f"{day}.jsonl", events, day=day)
        result = dg.materialize(
            [*ASSETS, *CHECKS],
            resources=self.resources,
            partition_key=day.isoformat(),
            instance=self.instance,
        )
        assert result.success
        return result


def _files(root: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in root.iterdir()}


def test_a_run_publishes_a_snapshot_that_answers_as_the_warehouse(tmp_path, landing) -> None:
    pipeline = Pipeline(tmp_path, landing)
    result = pipeline.run(D1, [track(1, D1, userId="u-1", email="Ann@Example.com")])
    pointer = read_pointer(pipeline.serving)
    metadata = materialized_metadata(result)["serving_snapshot"]
    assert metadata["published"].value is True
    assert metadata["version"].value == pointer.version > 0
    assert pointer.file == f"{pointer.version}.duckdb"
    assert pointer.counts == {
        "identity_journal": 1,
        "customer_profiles": 1,
        "identity_map": 2,
        "identifiers": 2,
    }
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"snapshot_counts_match": True, "every_identity_served": True}
    with pipeline.warehouse.get_connection() as conn:
        expected = journal_response(conn, "email", " ann@example.COM")
    with open_current(pipeline.serving) as (opened, conn):
        assert opened == pointer
        assert journal_response(conn, "email", " ann@example.COM") == expected
        # an email's UID2 hash finds the same journal in the snapshot
        assert journal_response(conn, "email", uid2_hash("ann@example.com")) == expected
        assert conn.execute("select version, phone_region from snapshot_info").fetchall() == [
            (pointer.version, "US")
        ]
    assert expected[0] == 200


def test_a_run_with_nothing_new_writes_nothing(tmp_path, landing) -> None:
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(D1, [track(1, D1, userId="u-1")])
    before = _files(pipeline.serving)
    result = pipeline.run(D1)
    assert _files(pipeline.serving) == before
    assert materialized_metadata(result)["serving_snapshot"]["published"].value is False


def test_new_versions_switch_the_pointer_and_keep_the_last_two(tmp_path, landing) -> None:
    pipeline = Pipeline(tmp_path, landing)
    versions = []
    for n, day in enumerate((D1, D2, D3)):
        pipeline.run(day, [track(n, day, userId=f"u-{n}")])
        versions.append(read_pointer(pipeline.serving).version)
    assert versions == sorted(set(versions))
    assert sorted(p.name for p in pipeline.serving.glob("*.duckdb")) == sorted(
        f"{v}.duckdb" for v in versions[1:]
    )
    assert sorted(p.name for p in pipeline.serving.iterdir() if p.name.startswith(".")) == []
    with open_current(pipeline.serving) as (pointer, conn):
        assert pointer.version == versions[-1]
        assert conn.execute("select count(*) from customer_profiles").fetchall() == [(3,)]


def test_a_reader_finishes_on_its_version_while_new_reads_see_the_next(tmp_path, landing) -> None:
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(D1, [track(1, D1, userId="u-1")])
    source = SnapshotSource(pipeline.serving)
    try:
        with source.lease() as (old, old_conn):
            # two more versions: the one this reader holds is published over and removed
            pipeline.run(D2, [track(2, D2, userId="u-2")])
            pipeline.run(D3, [track(3, D3, userId="u-3")])
            assert not (pipeline.serving / old.file).exists()
            with source.lease() as (new, new_conn):
                assert new.version > old.version
                assert new_conn.execute("select count(*) from identity_map").fetchall() == [(3,)]
            assert old_conn.execute("select count(*) from identity_map").fetchall() == [(1,)]
        assert source.current_pointer().version == new.version
    finally:
        source.close()


def test_the_checks_find_a_snapshot_that_differs_from_the_warehouse(tmp_path, landing) -> None:
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(D1, [track(1, D1, userId="u-1"), track(2, D1, userId="u-2")])
    pointer = read_pointer(pipeline.serving)
    with duckdb.connect(str(pipeline.serving / pointer.file)) as conn:
        conn.execute(
            "delete from customer_profiles "
            "where identity_id = (select min(identity_id) from customer_profiles)"
        )
    counts = snapshot_counts_match(warehouse=pipeline.warehouse)
    served = every_identity_served(warehouse=pipeline.warehouse)
    assert not counts.passed and counts.description.startswith("1 table(s)")
    assert not served.passed and served.description.startswith("1 identity(ies)")


def test_the_snapshot_keeps_the_phone_region_it_was_built_with(tmp_path, landing) -> None:
    pipeline = Pipeline(tmp_path, landing, phone_region="GB")
    pipeline.run(D1, [track(1, D1, userId="u-1", phone="020 7946 0018")])
    pointer = json.loads((pipeline.serving / POINTER).read_text())
    assert pointer["phone_region"] == "GB"
    with open_current(pipeline.serving) as (opened, conn):
        status, _ = journal_response(conn, "phone", "020 7946 0018", opened.phone_region)
    assert status == 200


def test_a_look_up_before_any_publish_says_what_to_do(tmp_path) -> None:
    source = SnapshotSource(tmp_path / "serving")
    assert source.current_pointer() is None
    with (
        pytest.raises(RuntimeError, match="run `identity-assets run --all` first"),
        open_current(tmp_path / "serving"),
    ):
        pass
