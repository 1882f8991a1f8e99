"""The value model refitted on a cadence that follows from the data: between fit days the
stored parameters predict, and a warehouse that kept its fit equals a fresh build."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from identity_assets import sql
from identity_assets.metrics import cadence, value
from identity_assets.metrics.rules import ValueRules
from identity_assets.metrics.selection import Candidates
from identity_assets.metrics.value import ensure_tables, forget_values, update_values
from identity_assets_tests.builders import purchase_history

pytestmark = pytest.mark.heavy

TUESDAY = datetime(2026, 4, 14)  # the grid of 7 days falls on Mondays
TABLES = ("customer_metrics", "customer_value")


def _tables(conn) -> dict[str, list[tuple]]:
    return {t: conn.execute(f"select * from {t} order by all").fetchall() for t in TABLES}


@pytest.fixture
def backtests(monkeypatch) -> list[datetime]:
    """The days the stage ran a backtest on (each refit runs one)."""
    days = []
    run = value.run_backtest

    def counted(candidates, as_of):
        days.append(as_of)
        return run(candidates, as_of)

    monkeypatch.setattr(value, "run_backtest", counted)
    return days


def test_between_fit_days_the_stored_fit_predicts_and_equals_a_fresh_build(conn, backtests) -> None:
    purchase_history(conn)
    first = update_values(conn, as_of=TUESDAY).fit
    monday = datetime(2026, 4, 13)
    assert first.fitted_at == monday.isoformat() and backtests == [monday]
    assert first.fit_reason == "refitted: no fit under these rules yet"

    kept = update_values(conn, as_of=TUESDAY + timedelta(days=2)).fit
    assert backtests == [monday]  # nothing fitted, nothing backtested
    assert kept.fit_reason == "kept: fitted 2026-04-13, 0% new buyers"
    assert replace(kept, fit_reason=None, history_days=0) == replace(
        first, fit_reason=None, history_days=0
    )
    incremental = _tables(conn)

    forget_values(conn)
    fresh = update_values(conn, as_of=TUESDAY + timedelta(days=2)).fit
    assert (fresh.fitted_at, backtests[-1]) == (first.fitted_at, monday)
    assert _tables(conn) == incremental

    # the next Monday is a fit day
    weekly = update_values(conn, as_of=TUESDAY + timedelta(days=6)).fit
    assert weekly.fit_reason == "refitted: every 7 days"
    assert weekly.fitted_at == (monday + timedelta(days=7)).isoformat()


def _purchases(conn, buyers: dict[str, list[str]]) -> None:
    """Good purchases of 10 on the given days, per buyer."""
    ensure_tables(conn)
    rows = [(b, f"{b}-{d}", datetime.fromisoformat(d)) for b, days in buyers.items() for d in days]
    table = pa.table(
        {
            "identity_id": [r[0] for r in rows],
            "event_id": [r[1] for r in rows],
            "occurred_at": [r[2] for r in rows],
        }
    )
    sql.insert_arrow(conn, "bought", table, replace_temp=True)
    conn.execute(
        "insert into purchases by name select *, 'r' as rule, 10.0 as amount, "
        "'USD' as currency from bought"
    )


def test_buyers_grown_by_the_share_make_a_fit_day_and_history_makes_the_first(conn) -> None:
    repeat = {f"b{n:03d}": ["2026-01-01T10:00", "2026-01-02T10:00"] for n in range(100)}
    new = {f"n{n:03d}": ["2026-01-06T10:00"] for n in range(12)}  # a Tuesday
    _purchases(conn, repeat | new)
    thursday = datetime(2026, 1, 8)
    rules = ValueRules(min_repeat_buyers=20, min_history_multiple=0)
    buyers = Candidates(conn, rules).features(thursday)
    grown = cadence.fit_day(buyers, rules, thursday)
    assert (grown.fit_day, grown.why) == (datetime(2026, 1, 7), "12% new buyers since 2026-01-05")
    assert (grown.buyers_then, grown.buyers_now) == (112, 112)

    weekly = cadence.fit_day(buyers, replace(rules, refit_new_buyers=0.2), thursday)
    assert (weekly.fit_day, weekly.why) == (datetime(2026, 1, 5), "every 7 days")
    assert f"{weekly.new_buyers:.0%}" == "12%"
    # five days of history needed: the first day a model may be fitted is after the grid's
    later = replace(rules, min_history_multiple=5 / 90, refit_new_buyers=0.2)
    first = cadence.fit_day(buyers, later, thursday)
    assert (first.fit_day, first.why) == (
        datetime(2026, 1, 6),
        "the first day a model may be fitted",
    )
