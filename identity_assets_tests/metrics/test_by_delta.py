"""Metrics by delta: only the identities a run touched are read from their events; every other
row is taken to the new as_of by arithmetic, and the tables equal a fresh build."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from identity_assets import sql
from identity_assets.identity.graph import resolve_identities
from identity_assets.ingest.core import ingest_day
from identity_assets.journal.build import update_journals
from identity_assets.metrics.value import update_values
from identity_assets_tests.builders import D1, D2, D3, connect, land_and_resolve, track

pytestmark = pytest.mark.heavy

TABLES = ("customer_metrics", "customer_value")
CALENDAR = (
    "select recency_days, tenure_days, customer_age_days, as_of from customer_metrics "
    "where total_purchases > 0 and identity_id = ("
    "select identity_id from identity_map where identifier_value = 'u-1')"
)


def _order(n: int, day: date, amount, when: str | None = None, **ids: str) -> dict:
    order = {**track(n, day, **ids), "event": "Order Completed", "properties": {"revenue": amount}}
    return order | ({"timestamp": when} if when else {})


def _run(conn, landing, day: date, events: list) -> None:
    land_and_resolve(conn, landing, day, events)
    update_journals(conn)
    update_values(conn)


def _tables(conn) -> dict[str, list[tuple]]:
    return {t: conn.execute(f"select * from {t} order by all").fetchall() for t in TABLES}


def _fresh(landing, days: list[date]) -> dict[str, list[tuple]]:
    fresh = connect()
    for day in days:
        ingest_day(fresh, landing.root, day)
    resolve_identities(fresh)
    update_journals(fresh)
    update_values(fresh)
    return _tables(fresh)


def test_an_untouched_identity_is_aged_to_the_new_day_and_equals_a_fresh_build(
    conn, landing
) -> None:
    _run(conn, landing, D1, [_order(1, D1, 30, userId="u-1"), _order(2, D1, 20, userId="u-2")])
    ((recency, tenure, age, as_of),) = conn.execute(CALENDAR).fetchall()
    # a day in which only u-2 and a newcomer do anything: u-1's row is not read again
    _run(conn, landing, D3, [_order(1, D3, 50, userId="u-2"), track(2, D3, userId="u-3")])
    assert conn.execute(CALENDAR).fetchall() == [
        (recency + 2, tenure + 2, age + 2, datetime(2026, 11, 21))
    ]
    assert as_of == datetime(2026, 11, 19)
    assert _tables(conn) == _fresh(landing, [D1, D3])


def test_an_event_the_last_as_of_left_out_counts_once_as_of_reaches_it(conn, landing) -> None:
    # landed on D1 but dated after its midnight (within the allowed clock skew)
    late = _order(1, D1, 40, when=f"{D2}T01:00:00Z", userId="u-1")
    _run(conn, landing, D1, [_order(2, D1, 10, userId="u-1"), late])
    assert conn.execute("select total_purchases from customer_metrics").fetchall() == [(1,)]
    _run(conn, landing, D2, [track(1, D2, userId="u-2")])
    assert conn.execute(
        "select total_purchases from customer_metrics where total_purchases > 0"
    ).fetchall() == [(2,)]
    assert _tables(conn) == _fresh(landing, [D1, D2])


def test_a_landed_day_of_older_events_still_moves_as_of(conn, landing) -> None:
    _run(conn, landing, D1, [_order(1, D1, 30, userId="u-1")])
    # D3's folder holds only events from D1: the data is landed as of D3
    _run(conn, landing, D3, [_order(2, D1, 10, userId="u-2")])
    assert conn.execute("select distinct as_of from customer_metrics").fetchall() == [
        (datetime(2026, 11, 21),)
    ]
    assert conn.execute("select distinct as_of from customer_value").fetchall() == [
        (datetime(2026, 11, 21),)
    ]


def test_a_metrics_row_lost_or_left_behind_is_made_good_by_the_next_run(conn, landing) -> None:
    """A run makes again the row of an identity that has none, and removes a row whose identity
    is gone, though their journals did not change."""
    _run(conn, landing, D1, [_order(1, D1, 10, userId="u-1"), _order(2, D1, 20, userId="u-2")])
    conn.execute(
        "delete from customer_metrics where identity_id = "
        "(select identity_id from identity_map where identifier_value = 'u-1')"
    )
    conn.execute(
        "insert into customer_metrics by name select * replace ('ghost' as identity_id) "
        "from customer_metrics limit 1"
    )
    _run(conn, landing, D3, [track(1, D3, userId="u-3")])
    assert _tables(conn) == _fresh(landing, [D1, D3])


def test_the_one_row_check_finds_a_missing_a_doubled_and_an_orphan_row(conn, landing) -> None:
    _run(conn, landing, D1, [_order(1, D1, 10, userId="u-1"), _order(2, D1, 20, userId="u-2")])
    check = sql.load("metrics/check_one_row_per_identity")
    assert conn.execute(check).fetchall() == []
    u1, u2 = (
        conn.execute(
            "select identity_id from identity_map where identifier_value = ?", [user]
        ).fetchall()[0][0]
        for user in ("u-1", "u-2")
    )
    conn.execute("delete from customer_value where identity_id = ?", [u1])
    conn.execute(
        "insert into customer_metrics select * from customer_metrics where identity_id = ?", [u2]
    )
    conn.execute(
        "insert into customer_value by name select * replace ('ghost' as identity_id) "
        "from customer_value where identity_id = ?",
        [u2],
    )
    assert sorted(conn.execute(check).fetchall()) == sorted(
        [(u1, "customer_value", 0), (u2, "customer_metrics", 2), ("ghost", "customer_value", 1)]
    )


def test_the_prediction_check_finds_negative_nan_and_infinite_values(conn, landing) -> None:
    _run(conn, landing, D1, [_order(n, D1, 10 * n, userId=f"u-{n}") for n in (1, 2, 3, 4)])
    check = sql.load("metrics/check_predictions_valid")
    assert conn.execute(check).fetchall() == []
    ids = [
        row[0]
        for row in conn.execute("select identity_id from customer_value order by 1").fetchall()
    ]
    for identity, value in zip(ids, ("-1", "nan", "inf"), strict=False):
        conn.execute(
            "update customer_value set predicted_90d_value = ?::double where identity_id = ?",
            [value, identity],
        )
    found = {row[0] for row in conn.execute(check).fetchall()}
    assert found == set(ids[:3])
