"""Stages that skip runs catch up: identity every day under rotating rules (limits on and off,
a hand block, another priority), the journal and metrics only every other day, and at the end
the warehouse equals a fresh build under the last rules, over four random histories."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta

import duckdb
import pytest

from identity_assets.identity.graph import resolve_identities
from identity_assets.identity.rules import Block, IdentityRules
from identity_assets.ingest.core import ingest_day
from identity_assets.journal.build import update_journals
from identity_assets.metrics.value import update_values
from identity_assets_tests.builders import Landing, connect, track

pytestmark = pytest.mark.heavy

FIRST_DAY = date(2026, 11, 10)
DAYS = 6
# Integer identifier keys are handles the order of runs hands out: placing identifiers are
# compared by type and value.
PLACING = "inner join identifiers as i using (identifier_key)"
OUTPUTS = {
    "identifiers": "select * exclude (identifier_key) from identifiers",
    "identity_map": "select * exclude (identifier_key, cluster_key) from identity_map",
    "identities": "select * from identities",
    "identity_refused_links": "select * exclude (cluster_key) from identity_refused_links",
    "event_placements": "select p.* exclude (identifier_key), i.identifier_type, "
    f"i.identifier_value from event_placements as p {PLACING}",
    "identity_journal": "select j.* exclude (identifier_key), i.identifier_type, "
    f"i.identifier_value from identity_journal as j {PLACING}",
    "customer_profiles": "select * from customer_profiles",
    "profile_traits": "select * from profile_traits",
    "purchases": "select * from purchases",
    "customer_metrics": "select * from customer_metrics",
    "customer_value": "select * from customer_value",
}
BASE = IdentityRules(limits={})
RULES = (
    BASE,
    IdentityRules(),  # the default limits
    replace(BASE, blocks=(Block("device_id", "kiosk-1", "store kiosk"),)),
    replace(BASE, limits={"user_id": 1, "email": 2}, priority=BASE.priority[::-1]),
)


def _events(rng: random.Random, day: date, count: int) -> list[dict]:
    """Events whose identifiers come from small pools, so they link, merge and split."""
    events = []
    for n in range(count):
        ids = {}
        if rng.random() < 0.5:
            ids["userId"] = f"u-{rng.randrange(8)}"
        if rng.random() < 0.6:
            ids["anonymousId"] = f"a-{rng.randrange(12)}"
        if rng.random() < 0.3:
            ids["email"] = f"e{rng.randrange(6)}@example.com"
        if rng.random() < 0.3:
            ids["device"] = f"kiosk-{rng.randrange(2)}"
        if not ids:
            ids["anonymousId"] = f"a-{rng.randrange(12)}"
        event = track(n, day, **ids)
        if rng.random() < 0.3:
            event |= {"event": "Order Completed", "properties": {"revenue": rng.randrange(5, 90)}}
        events.append(event)
    return events


def _tables(conn: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {t: conn.execute(f"{query} order by all").fetchall() for t, query in OUTPUTS.items()}


# One seed for each place the rules' rotation can start; half of them run the journal on even
# days, half on odd ones.
@pytest.mark.parametrize("seed", range(len(RULES)))
def test_skipped_runs_catch_up_to_a_fresh_build(tmp_path, seed: int) -> None:
    rng = random.Random(seed)
    landing = Landing(tmp_path / "landing")
    days = [FIRST_DAY + timedelta(days=n) for n in range(DAYS)]
    for day in days:
        landing.write("a.jsonl", _events(rng, day, rng.randrange(4, 12)), day=day)
    # a day re-delivered later, with other events
    redelivered = rng.choice(days)
    conn = connect()
    for number, day in enumerate(days):
        ingest_day(conn, landing.root, day)
        if number == DAYS - 2:
            landing.write("a.jsonl", _events(rng, redelivered, 5), day=redelivered)
            ingest_day(conn, landing.root, redelivered)
        rules = RULES[(number + seed) % len(RULES)]
        resolve_identities(conn, rules)
        if number % 2 == seed % 2:
            update_journals(conn)
            update_values(conn)
    update_journals(conn)
    update_values(conn)

    fresh = connect()
    for day in days:
        ingest_day(fresh, landing.root, day)
    resolve_identities(fresh, rules)
    update_journals(fresh)
    update_values(fresh)
    incremental, rebuilt = _tables(conn), _tables(fresh)
    assert rebuilt["identity_journal"], "the history must place some events"
    assert {t: rows for t, rows in incremental.items() if rows != rebuilt[t]} == {}
