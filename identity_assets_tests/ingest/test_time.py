"""Time you can trust: clock skew corrected as Segment does, implausible times rejected."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pytest

from identity_assets.identity.graph import resolve_identities
from identity_assets.ingest.core import TimeWindow, ingest_day, ingest_days
from identity_assets.journal.build import update_journals
from identity_assets.metrics.value import update_values
from identity_assets.resources import landing_from_env
from identity_assets_tests.builders import DAY, Landing, connect


def order(n: int, when: str, amount: float, user: str) -> dict:
    return {
        "type": "track",
        "messageId": f"o-{n}",
        "userId": user,
        "event": "Order Completed",
        "properties": {"revenue": amount, "currency": "USD"},
        "timestamp": when,
    }


GOOD = [
    order(1, "2026-11-01T10:00:00Z", 40, "u-1"),
    order(2, "2026-11-15T10:00:00Z", 60, "u-1"),
    order(3, "2026-11-20T09:00:00Z", 25, "u-2"),
]
BAD = [
    order(4, "9999-12-31T00:00:00Z", 10, "u-3"),
    order(5, "2099-01-01T00:00:00Z", 10, "u-1"),
    order(6, "infinity", 10, "u-4"),
    order(7, "1970-01-01T00:00:00Z", 10, "u-2"),
    order(8, "10000-01-01T00:00:00Z", 10, "u-5"),
]


def build(landing_root, day: date) -> duckdb.DuckDBPyConnection:
    conn = connect()
    ingest_day(conn, landing_root, day)
    resolve_identities(conn)
    update_journals(conn)
    update_values(conn)
    return conn


@pytest.mark.heavy
def test_implausible_times_are_rejected_and_every_other_figure_is_unchanged(
    tmp_path, landing: Landing
) -> None:
    landing.write("a.jsonl", GOOD + BAD)
    clean = Landing(tmp_path / "clean")
    clean.write("a.jsonl", GOOD)

    conn = build(landing.root, DAY)
    rejects = conn.execute(
        "select line_number, reason, detail from raw_event_rejects order by 1"
    ).fetchall()
    assert [(line, reason) for line, reason, _ in rejects] == [
        (line, "implausible_time") for line in range(4, 9)
    ]
    assert "9999-12-31 00:00:00 is after the landing day 2026-11-20 plus 1 day" in rejects[0][2]
    assert "1970-01-01 00:00:00 is before the earliest accepted time 2000-01-01" in rejects[3][2]

    expected = build(clean.root, DAY)
    for table in ("customer_metrics", "customer_value", "identity_journal"):
        query = f"select * from {table} order by all"
        assert conn.execute(query).fetchall() == expected.execute(query).fetchall(), table
    as_of = conn.execute("select distinct as_of from customer_metrics").fetchall()
    assert as_of == [(datetime(2026, 11, 21),)]


def test_the_window_is_configurable(conn, landing: Landing) -> None:
    landing.write("a.jsonl", [order(1, "1999-06-01T00:00:00Z", 5, "u"), GOOD[2]])
    window = TimeWindow(earliest=datetime(1990, 1, 1), max_skew=timedelta(hours=1))
    list(ingest_days(conn, landing.root, [DAY], window=window))
    assert conn.execute("select count(*) from raw_events").fetchone()[0] == 2
    late = order(2, "2026-11-21T02:00:00Z", 5, "u")
    landing.write("a.jsonl", [late])
    list(ingest_days(conn, landing.root, [DAY], window=window))
    assert conn.execute("select reason from raw_event_rejects").fetchall() == [
        ("implausible_time",)
    ]


def test_device_clock_skew_is_corrected_by_sent_at_and_received_at(conn, landing: Landing) -> None:
    skewed = {
        **order(1, "2099-03-01T09:00:00Z", 5, "u"),
        "sentAt": "2099-03-01T09:00:10Z",
        "receivedAt": "2026-11-20T12:00:10Z",
    }
    honest = {
        **order(2, "2026-11-20T08:00:00Z", 5, "u"),
        "sentAt": "2026-11-20T08:00:01Z",
        "receivedAt": "2026-11-20T08:00:03Z",
    }
    landing.write("a.jsonl", [skewed, honest])
    ingest_day(conn, landing.root, DAY)
    assert conn.execute("select occurred_at from raw_events order by message_id").fetchall() == [
        (datetime(2026, 11, 20, 12, 0, 0),),
        (datetime(2026, 11, 20, 8, 0, 2),),
    ]


def test_the_window_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("IDENTITY_EARLIEST_EVENT", "2015-03-01")
    monkeypatch.setenv("IDENTITY_MAX_CLOCK_SKEW_HOURS", "6")
    assert landing_from_env().window() == TimeWindow(datetime(2015, 3, 1), timedelta(hours=6))
