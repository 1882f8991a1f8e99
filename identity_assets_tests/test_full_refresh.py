"""A full refresh rebuilds a stage and every stage after it, equal to a fresh build."""

from __future__ import annotations

from dataclasses import replace

import dagster as dg
import duckdb
import pytest

from identity_assets.identity.graph import rebuild_identities, resolve_identities
from identity_assets.identity.rules import Block, IdentityRules
from identity_assets.ingest.core import ingest_day
from identity_assets.journal.build import forget_journals, update_journals
from identity_assets.metrics.value import forget_values, update_values
from identity_assets.resources import FullRefresh
from identity_assets_tests.builders import D1, D2, D3, connect, land_and_resolve, track

pytestmark = pytest.mark.heavy

OUTPUTS = (
    "identifiers",
    "identity_map",
    "identities",
    "identity_refused_links",
    "identity_merges",
    "event_placements",
    "identity_journal",
    "customer_profiles",
    "profile_traits",
    "purchases",
    "customer_metrics",
    "customer_value",
)
KIOSK = Block("device_id", "kiosk-9", "store kiosk")


def _order(n: int, day, amount, **ids: str) -> dict:
    return {**track(n, day, **ids), "event": "Order Completed", "properties": {"revenue": amount}}


def _tables(conn: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {t: conn.execute(f"select * from {t} order by all").fetchall() for t in OUTPUTS}


def _history(conn, landing, rules: IdentityRules) -> None:
    """Three days, a block added on the last (it splits what the second merged), journals and
    metrics after each."""
    days = [
        (D1, [_order(1, D1, 30, userId="u-1", device="kiosk-9"), track(2, D1, anonymousId="a")]),
        (D2, [_order(1, D2, 50, userId="u-2", device="kiosk-9", anonymousId="a")]),
        (D3, [_order(1, D3, 20, userId="u-1", email="x@example.com")]),
    ]
    for number, (day, events) in enumerate(days):
        blocks = (KIOSK,) if number == 2 else ()
        land_and_resolve(conn, landing, day, events, replace(rules, blocks=blocks))
        update_journals(conn)
        update_values(conn)


def _fresh_build(conn, landing, rules: IdentityRules) -> dict[str, list[tuple]]:
    fresh = connect()
    for day in (D1, D2, D3):
        ingest_day(fresh, landing.root, day)
    resolve_identities(fresh, rules)
    update_journals(fresh)
    update_values(fresh)
    return _tables(fresh)


def test_a_full_refresh_from_identity_equals_a_fresh_build(conn, landing) -> None:
    rules = IdentityRules(limits={})
    _history(conn, landing, rules)
    blocked = replace(rules, blocks=(KIOSK,))
    incremental = _tables(conn)
    rebuild_identities(conn, blocked)
    forget_journals(conn)
    update_journals(conn)
    forget_values(conn)
    update_values(conn)
    refreshed = _tables(conn)
    assert refreshed == _fresh_build(conn, landing, blocked)
    # the incremental history kept what a fresh build does not: the merges and splits it saw
    assert incremental["identity_merges"] != refreshed["identity_merges"]


def test_a_full_refresh_from_the_journal_repairs_rows_an_incremental_run_keeps(
    conn, landing
) -> None:
    rules = IdentityRules(limits={})
    _history(conn, landing, rules)
    whole = conn.execute("select count(*) from identity_journal").fetchall()[0][0]
    conn.execute("delete from identity_journal where day = ?", [D1])
    update_journals(conn)  # nothing changed upstream: the lost rows stay lost
    assert conn.execute("select count(*) from identity_journal").fetchall()[0][0] < whole
    forget_journals(conn)
    update_journals(conn)
    assert conn.execute("select count(*) from identity_journal").fetchall()[0][0] == whole


def test_full_refresh_covers_the_stage_named_and_every_stage_after_it() -> None:
    refresh = FullRefresh(from_stage="journal")
    assert [refresh.includes(s) for s in ("ingest", "identity", "journal", "metrics")] == [
        False,
        False,
        True,
        True,
    ]
    assert not FullRefresh().includes("identity")
    try:
        FullRefresh(from_stage="journals").includes("journal")
    except ValueError as error:
        assert "journals" in str(error)
    else:
        raise AssertionError("an unknown stage must be refused")


def test_the_launchpad_config_reaches_the_assets(tmp_path, landing) -> None:
    from identity_assets.definitions import ASSETS
    from identity_assets.resources import (
        IdentifierApi,
        IdentityRulesResource,
        LandingDirectory,
        SegmentRulesResource,
        ValueRulesResource,
        Warehouse,
    )

    landing.write("a.jsonl", [_order(1, D1, 30, userId="u-1")], day=D1)
    database = str(tmp_path / "w.duckdb")
    resources = {
        "warehouse": Warehouse(database=database),
        "landing": LandingDirectory(path=str(landing.root)),
        "identity_rules": IdentityRulesResource(),
        "value_rules": ValueRulesResource(),
        "segment_rules": SegmentRulesResource(),
        "identifier_api": IdentifierApi(url="http://127.0.0.1:9/api/v1"),
        "full_refresh": FullRefresh(),
    }
    selection = [a for a in ASSETS if "segment" not in str(a.keys)]
    assert dg.materialize(selection, resources=resources, partition_key=D1.isoformat()).success
    with duckdb.connect(database) as db:
        db.execute("delete from identity_journal")
    result = dg.materialize(
        selection,
        resources=resources,
        partition_key=D1.isoformat(),
        run_config={"resources": {"full_refresh": {"config": {"from_stage": "journal"}}}},
    )
    assert result.success
    with duckdb.connect(database, read_only=True) as db:
        assert db.execute("select count(*) from identity_journal").fetchall() == [(1,)]
