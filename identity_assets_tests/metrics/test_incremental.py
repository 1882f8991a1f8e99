"""Purchases follow the journal day by day and row by row, and equal a fresh read of it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from identity_assets import changes
from identity_assets.identity.graph import resolve_identities
from identity_assets.identity.rules import Block, IdentityRules
from identity_assets.journal.build import update_journals
from identity_assets.metrics.rules import DEFAULT_PURCHASE_RULES, ValueRules
from identity_assets.metrics.value import update_values
from identity_assets_tests.builders import D1, D2, D3, land_and_resolve, track

pytestmark = pytest.mark.heavy

NO_LIMITS = IdentityRules(limits={})
PURCHASES = "select * exclude (day) from purchases order by event_id, rule"


def _order(n: int, day, amount, **ids: str) -> dict:
    return {**track(n, day, **ids), "event": "Order Completed", "properties": {"revenue": amount}}


def _fresh(conn) -> list[tuple]:
    """Purchases read again from the whole journal."""
    changes.forget(conn, "metrics")
    update_values(conn)
    return conn.execute(PURCHASES).fetchall()


def test_purchases_follow_new_days_merges_and_blocks_and_equal_a_fresh_read(conn, landing) -> None:
    land_and_resolve(
        conn, landing, D1, [_order(1, D1, 30, userId="u-1", device="kiosk-9")], NO_LIMITS
    )
    update_journals(conn)
    update_values(conn)
    land_and_resolve(
        conn, landing, D2, [_order(1, D2, 200, userId="u-2", device="kiosk-9")], NO_LIMITS
    )
    update_journals(conn)
    update_values(conn)
    assert (
        len({row[0] for row in conn.execute("select identity_id from purchases").fetchall()}) == 1
    )
    blocked = replace(NO_LIMITS, blocks=(Block("device_id", "kiosk-9", "store kiosk"),))
    resolve_identities(conn, blocked)
    land_and_resolve(conn, landing, D3, [_order(1, D3, "n/a", device="kiosk-9")], blocked)
    update_journals(conn)
    update_values(conn)
    followed = conn.execute(PURCHASES).fetchall()
    assert len({row[0] for row in followed}) == 2
    assert followed == _fresh(conn)


def test_a_purchase_rule_change_reads_every_day_again(conn, landing) -> None:
    land_and_resolve(conn, landing, D1, [_order(1, D1, 30, userId="u-1")])
    land_and_resolve(conn, landing, D2, [_order(1, D2, 40, userId="u-1")])
    update_journals(conn)
    update_values(conn)
    assert conn.execute("select count(*) from purchases").fetchone() == (2,)
    in_euros = tuple(replace(rule, default_currency="EUR") for rule in DEFAULT_PURCHASE_RULES)
    update_values(conn, ValueRules(purchases=in_euros))
    assert conn.execute("select distinct currency from purchases").fetchall() == [("EUR",)]


def test_purchases_kept_before_they_had_a_day_are_read_again_once(conn, landing) -> None:
    land_and_resolve(
        conn, landing, D1, [_order(1, D1, 30, userId="u-1", device="kiosk-9")], NO_LIMITS
    )
    update_journals(conn)
    update_values(conn)
    # a warehouse from before purchases kept their journal day
    conn.execute("update purchases set day = null")
    # u-2 merges with u-1 through the kiosk: u-1's D1 purchase follows it outside the day
    land_and_resolve(
        conn, landing, D2, [_order(1, D2, 200, userId="u-2", device="kiosk-9")], NO_LIMITS
    )
    update_journals(conn)
    update_values(conn)
    followed = conn.execute(PURCHASES).fetchall()
    assert len(followed) == 2
    assert conn.execute("select count(*) from purchases where day is null").fetchall() == [(0,)]
    assert followed == _fresh(conn)


def test_journal_versions_from_before_moved_rows_were_logged_read_purchases_again(
    conn, landing
) -> None:
    land_and_resolve(
        conn, landing, D1, [_order(1, D1, 30, userId="u-1", device="kiosk-9")], NO_LIMITS
    )
    land_and_resolve(
        conn, landing, D2, [_order(1, D2, 200, userId="u-2", device="kiosk-9")], NO_LIMITS
    )
    update_journals(conn)
    update_values(conn)
    # the block splits u-1 from u-2: their rows move outside the changed day
    blocked = replace(NO_LIMITS, blocks=(Block("device_id", "kiosk-9", "store kiosk"),))
    resolve_identities(conn, blocked)
    land_and_resolve(conn, landing, D3, [_order(1, D3, "n/a", device="kiosk-9")], blocked)
    update_journals(conn)
    # a warehouse that had no change_rows when the journal moved those rows
    conn.execute("delete from change_rows")
    conn.execute(
        "update stage_rules set rules = (select max(version) from change_versions)::varchar "
        "where stage = 'change_rows'"
    )
    update_values(conn)
    followed = conn.execute(PURCHASES).fetchall()
    assert len({row[0] for row in followed}) == 2
    assert followed == _fresh(conn)
