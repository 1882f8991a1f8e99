"""The value model chosen by backtest: when it refuses to predict, how it chooses, how it
calibrates the total, and that the same data gives the same choice and numbers."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from identity_assets import sql
from identity_assets.metrics import models, selection
from identity_assets.metrics.rules import ValueRules
from identity_assets.metrics.selection import (
    CANDIDATES,
    Candidates,
    MethodScore,
    choose,
    run_backtest,
)
from identity_assets.metrics.value import forget_values, update_values
from identity_assets_tests.builders import (
    START,
    Landing,
    identity_of,
    land,
    order,
    purchase_history,
)

pytestmark = pytest.mark.heavy

TRUSTED = sql.load("metrics/check_value_model_trusted")


@pytest.fixture
def history(conn):
    purchase_history(conn)
    return conn


def values(conn) -> list[tuple]:
    return conn.execute("select * from customer_value order by identity_id").fetchall()


def untrusted(conn) -> dict[str, int]:
    return dict(conn.execute(TRUSTED).fetchall())


def test_four_days_of_history_get_no_prediction_from_a_fitted_model(conn, landing: Landing):
    # 40 buyers, most buying again: enough repeat buyers to fit, far too little history
    lines = [
        order(p * 10 + v, date(2026, 11, 17 + v), 10, {"value": 10 + p}, f"u-{p}")
        for p in range(40)
        for v in range(1 + p % 4)
    ]
    land(conn, landing, date(2026, 11, 20), lines)
    result = update_values(conn, ValueRules(min_repeat_buyers=5))
    reason = "history of 4 days is shorter than 270 (3 x 90)"
    assert (result.fit.chosen, result.fit.unfitted_reason) == (None, reason)
    assert result.fit.bg_nbd is None and result.fit.candidates == []
    assert conn.execute("select distinct method from customer_value").fetchall() == [
        (f"baseline: {reason}",)
    ]
    assert untrusted(conn) == {f"baseline: {reason}": 40}
    # a shop that accepts four days of history still gets no number from the broken fit
    # they give: its parameters are degenerate
    forget_values(conn)
    accepting = ValueRules(min_repeat_buyers=5, min_history_multiple=0.01, refit_days=1)
    result = update_values(conn, accepting)
    assert result.fit.bg_nbd is None
    assert result.fit.unfitted_reason.startswith("BG/NBD degenerate parameters (r ")
    assert untrusted(conn) == {f"baseline: {result.fit.unfitted_reason}": 40}


def test_the_backtest_scores_every_candidate_and_its_rule_chooses(history) -> None:
    history.execute(
        "insert into identities by name select 'id-browser' as identity_id, $start as "
        "first_seen, $start as last_seen, 1 as identifier_count, 1 as event_count, "
        "'user_id' as anchor_type, 'browser' as anchor_value",
        {"start": START},
    )
    result = update_values(history)
    fit = result.fit
    fitted_at = datetime.fromisoformat(fit.fitted_at)
    assert result.as_of - timedelta(7) < fitted_at <= result.as_of
    assert fit.history_days >= 270 and fit.backtest_cut == (fitted_at - timedelta(90)).isoformat()
    rows = {r["candidate"]: r for r in fit.candidates}
    assert list(rows) == list(CANDIDATES)
    assert all(r["status"] in ("", "chosen") and r["identities"] > 100 for r in rows.values())
    scores = {
        name: MethodScore(
            name, r["identities"], r["mae"], r["rmse"], r["spearman"] or float("nan"),
            r["predicted_total"], r["actual_total"],
        )
        for name, r in rows.items()
    }  # fmt: skip
    assert fit.chosen == choose(scores) and rows[fit.chosen]["status"] == "chosen"
    methods = history.execute(
        "select distinct method from customer_value where identity_id <> 'id-browser'"
    ).fetchall()
    assert all(method.startswith(fit.chosen.split("_gamma")[0]) for (method,) in methods)
    assert history.execute(
        "select method from customer_value where identity_id = 'id-browser'"
    ).fetchall() == [("baseline: no purchases",)]


def test_the_supervised_model_learns_from_the_window_before(history) -> None:
    rules = ValueRules()
    update_values(history)
    candidates = Candidates(history, rules)
    cut = datetime(2026, 1, 1)
    prediction = candidates.predict("gradient_boosting", cut)
    features = candidates.features(cut)
    assert prediction.value.shape == features["x"].shape and prediction.value.min() >= 0
    # it ranks the buyers better than chance on what they spent next
    assert selection.score("gb", prediction.value, features["actual"]).spearman > 0.2
    # with no outcomes in the window before, it has nothing to learn from
    early = Candidates(history, rules).predict("gradient_boosting", START + timedelta(days=30))
    assert early.value is None and early.reason.startswith("too few buyers spent")


def test_the_same_data_gives_the_same_choice_and_numbers(history) -> None:
    first = update_values(history)
    before = values(history)
    # the same purchases stored in another order, fitted again from nothing
    forget_values(history)
    history.execute(
        "create or replace table identity_journal as "
        "select * from identity_journal order by md5(event_id)"
    )
    second = update_values(history)
    assert values(history) == before
    assert second.fit == first.fit


def test_a_degenerate_fit_is_left_out(history, monkeypatch) -> None:
    # what BG/NBD gave on four days of exports
    fitted = {"r": 2015170.0, "alpha": 38377380.0, "a": 1e-5, "b": 6e-5}
    assert models.degenerate(fitted) == (
        "degenerate parameters (r 2.02e+06, alpha 3.84e+07, a 1e-05, b 6e-05)"
    )
    assert models.degenerate({"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4}) is None
    monkeypatch.setattr(models, "fit_bg_nbd", lambda *args, **kwargs: fitted)
    fit = update_values(history).fit
    rows = {r["candidate"]: r for r in fit.candidates}
    assert rows["bg_nbd_gamma_gamma"]["status"] == (
        "out: BG/NBD degenerate parameters (r 2.02e+06, alpha 3.84e+07, a 1e-05, b 6e-05)"
    )
    assert rows["bg_nbd_gamma_gamma"]["mae"] is None
    assert fit.chosen != "bg_nbd_gamma_gamma" and fit.bg_nbd is None
    # gradient boosting still learns, without BG/NBD's features
    assert rows["gradient_boosting"]["mae"] is not None


def test_recent_spend_is_chosen_when_no_fitted_model_does_better() -> None:
    def scored(name, mae, spearman, predicted):
        return MethodScore(name, 100, mae, mae, spearman, predicted, 1000.0)

    fitted_worse = {
        "bg_nbd_gamma_gamma": scored("bg_nbd_gamma_gamma", 10.0, 0.40, 1050.0),
        "pareto_nbd_gamma_gamma": scored("pareto_nbd_gamma_gamma", 10.5, 0.41, 950.0),
        "recent_spend": scored("recent_spend", 10.8, 0.45, 1080.0),
    }
    assert choose(fitted_worse) == "recent_spend"
    # a total off by more than 10% counts first, then an MAE more than 10% above the lowest
    assert choose(fitted_worse | {"recent_spend": scored("recent_spend", 10.8, 0.45, 1200.0)}) == (
        "pareto_nbd_gamma_gamma"
    )
    assert choose(fitted_worse | {"recent_spend": scored("recent_spend", 11.5, 0.45, 1000.0)}) == (
        "pareto_nbd_gamma_gamma"
    )
    assert choose({}) is None


def test_recent_spend_chosen_says_so_and_warns(history, monkeypatch) -> None:
    monkeypatch.setattr(selection, "choose", lambda scores: "recent_spend")
    update_values(history)
    ((method, buyers),) = untrusted(history).items()
    assert method.startswith("recent_spend: no fitted model did better on the backtest")
    assert (
        buyers
        == history.execute(
            "select count(*) from customer_metrics where total_purchases > 0"
        ).fetchall()[0][0]
    )


def test_a_total_off_on_the_backtest_is_scaled_to_it_and_says_so(history, monkeypatch):
    monkeypatch.setattr(selection, "TOTAL_TOLERANCE", 0.0)
    monkeypatch.setattr("identity_assets.metrics.value.TOTAL_TOLERANCE", 0.0)
    every_run = ValueRules(refit_days=1)  # fitted on as_of itself
    result = update_values(history, every_run)
    fit = result.fit
    chosen = next(r for r in fit.candidates if r["status"] == "chosen")
    assert fit.calibration == pytest.approx(chosen["actual_total"] / chosen["predicted_total"])
    assert fit.calibration != 1
    # the stage's predictions are the chosen model's, times the factor
    candidates = Candidates(history, every_run)
    run_backtest(candidates, result.as_of)
    unscaled = candidates.predict(fit.chosen, result.as_of).value.sum()
    (total,) = history.execute(
        "select sum(predicted_90d_value) from customer_value where method not like 'baseline%'"
    ).fetchall()[0]
    assert total == pytest.approx(unscaled * fit.calibration)
    error = chosen["predicted_total"] / chosen["actual_total"] - 1
    assert set(untrusted(history)) == {
        f"{fit.chosen}: total {error:+.0%} on the backtest, scaled by {fit.calibration:.3f}"
    }


def test_features_are_the_buyers_history_and_what_they_spent_next(conn, landing) -> None:
    lines = [
        order(1, date(2025, 12, 20), 10, {"value": 40}),
        order(2, date(2026, 3, 1), 10, {"value": 20}),
        order(3, date(2026, 3, 1), 11, {"value": 5, "currency": "EUR"}),
        order(4, date(2026, 3, 20), 10, {"value": 30}),
        order(5, date(2026, 4, 10), 10, {"value": 12}),  # after the cut, within the window
        order(6, date(2026, 7, 10), 10, {"value": 99}),  # after the window
    ]
    land(conn, landing, date(2026, 7, 10), lines)
    update_values(conn)
    f = Candidates(conn, ValueRules(horizon_days=90)).features(datetime(2026, 4, 1))
    assert f["identity_id"].tolist() == [identity_of(conn, "user_id", "u-1")]
    got = {k: float(f[k][0]) for k in f if k not in ("identity_id", "currency")}
    assert f["currency"][0] == "USD"
    assert got == {
        "x": 2,  # purchase days after the first (every currency)
        "t_x": 90,
        "age": 102,
        "m": 25,  # mean USD spend of the repeat days
        "purchases": 3,
        "spend": 90,
        "avg_order_value": 30,
        "recent_spend": 50,  # the 90 days before the cut
        "recent_days": 2,
        "actual": 12,
        "recency": 12,
        "rate": 2 / 102,
        "first_day": date(2025, 12, 20).toordinal(),  # the fit day's cadence reads these
        "second_day": date(2026, 3, 1).toordinal(),
    }


def _mixed_purchases(conn) -> None:
    """The purchase history with a fifth of its orders in EUR and some unusable."""
    purchase_history(conn)
    conn.execute(
        "update identity_journal set payload = json_object('type', 'track', 'event', "
        "'Order Completed', 'properties', json_object('value', payload->'$.properties.value', "
        "'currency', 'EUR')) where hash(event_id) % 5 = 0"
    )
    conn.execute(
        "update identity_journal set payload = json_object('type', 'track', 'event', "
        "'Order Completed', 'properties', json_object('value', 'n/a')) "
        "where hash(event_id) % 17 = 0"
    )


def test_the_days_features_from_the_summaries_equal_those_from_every_purchase(conn) -> None:
    _mixed_purchases(conn)
    result = update_values(conn)
    rules = ValueRules()
    purchases = Candidates(conn, rules).features(result.as_of)
    # the summaries need no purchase before the recent window
    conn.execute(
        "delete from purchases where occurred_at < $as_of::date - $horizon",
        {"as_of": result.as_of, "horizon": rules.horizon_days},
    )
    summarised = Candidates(conn, rules, summarised=result.as_of).features(result.as_of)
    assert set(summarised["currency"]) == {"USD", "EUR"}
    assert len(summarised["x"]) > 100 and (summarised["recent_days"] > 0).any()
    for name, column in purchases.items():
        expected = 0 * column if name == "actual" else column  # nothing is spent after as_of
        assert summarised[name].tolist() == expected.tolist(), name


def test_metrics_rows_made_before_the_whole_summary_are_made_again(conn) -> None:
    _mixed_purchases(conn)
    update_values(conn)
    before = conn.execute("select * from customer_metrics order by identity_id").fetchall()
    conn.execute(
        "update customer_metrics set currency_purchases = null, second_purchase_day = null"
    )
    assert update_values(conn).changed
    after = conn.execute("select * from customer_metrics order by identity_id").fetchall()
    assert after == before
