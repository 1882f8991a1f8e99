"""Customer metrics in SQL, and a predicted 90-day value from the model a backtest chooses.

The metrics are SQL (`sql/`), made again from their events only for the identities a run
touched; what depends on the calendar alone and the RFM ranks are taken to `as_of` for every
row from the stored columns (decision 0019). The value comes from the candidate that predicted
the last `horizon` days best when fitted on the history before them (`selection.py`):
BG/NBD or Pareto/NBD with Gamma-Gamma, gradient boosting, or recent spend, refitted on the fit
days `cadence.py` names and otherwise predicting with its stored parameters. The stage does not
predict from a model when the history is shorter than `min_history_multiple` windows, when
there are too few repeat buyers, or when the chosen model does not fit: the seed's formula is
kept beside the prediction as the baseline and stands in, with `method` saying why. A chosen
model whose total on the backtest is off by more than 10% is scaled to it, and says so.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa

from identity_assets import changes, sql
from identity_assets.metrics import cadence
from identity_assets.metrics.models import (  # noqa: F401 - the model's functions, here too
    GammaGammaFit,
    expected_purchases,
    fit_bg_nbd,
    fit_gamma_gamma,
)
from identity_assets.metrics.rules import ValueRules, rule_parameters, stage_engagement
from identity_assets.metrics.selection import (
    CANDIDATES,
    TOTAL_TOLERANCE,
    Candidates,
    Prediction,
    run_backtest,
)


@dataclass(frozen=True)
class ModelFit:
    """The chosen model's parameters, or why no model predicts (per currency for
    Gamma-Gamma, with the L2 penalty a fit needed), and the backtest that chose it: every
    candidate's scores (`candidates`, plain rows) at `backtest_cut`, and the factor its
    predictions were scaled by (1.0: its total was within tolerance)."""

    bg_nbd: dict[str, float] | None
    gamma_gamma: dict[str, dict[str, float]] = field(default_factory=dict)
    unfitted_reason: str | None = None
    gamma_gamma_unfitted: dict[str, str] = field(default_factory=dict)
    gamma_gamma_penalizers: dict[str, float] = field(default_factory=dict)
    pareto_nbd: dict[str, float] | None = None
    chosen: str | None = None
    backtest_cut: str | None = None
    candidates: list[dict[str, object]] = field(default_factory=list)
    calibration: float = 1.0
    history_days: int = 0
    note: str | None = None  # what each buyer's method adds about the backtest
    fitted_at: str | None = None  # the fit day (cadence.py) the parameters were fitted on
    fit_reason: str | None = None  # why this run refitted or kept them


@dataclass(frozen=True)
class ValueResult:
    """What one metrics run did, for logs and materialization metadata."""

    identities: int
    buyers: int
    purchases: int
    bad_purchases: dict[str, int]
    fit: ModelFit
    as_of: datetime
    seconds: float
    changed: bool = True  # False: nothing upstream or in the rules changed, nothing was written


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the metrics tables if this warehouse does not have them yet."""
    sql.create_tables(conn, "metrics")
    sql.create_macros(conn)


def data_end(conn: duckdb.DuckDBPyConnection) -> datetime:
    """Midnight after the last landed day in the journal: metrics are taken as of the landed
    data's day, whatever times its events carry."""
    last = conn.execute("select max(day) from identity_journal").fetchall()[0][0]
    if last is None:
        return datetime(1970, 1, 2)
    return datetime.combine(last, datetime.min.time()) + timedelta(days=1)


def update_values(
    conn: duckdb.DuckDBPyConnection,
    rules: ValueRules | None = None,
    as_of: datetime | None = None,
) -> ValueResult:
    """Bring purchases up to date with the journal, then rebuild customer_metrics and
    customer_value as of `as_of` (default: the end of the data). When neither the journal,
    the rules nor `as_of` changed since the last run, nothing is written."""
    rules = rules or ValueRules()
    started = time.perf_counter()
    ensure_tables(conn)
    as_of = as_of or data_end(conn)
    journal = changes.pending(conn, "metrics", "identity_journal")
    inputs = {"rules": json.loads(json.dumps(asdict(rules))), "as_of": as_of.isoformat()}
    stored = json.loads(changes.applied_rules(conn, "metrics") or "{}")
    before = stored.get("inputs") if isinstance(stored.get("inputs"), dict) else {}
    # rows made before customer_metrics held the whole summary the predictions read
    stale = bool(
        conn.execute(
            "select count(*) from customer_metrics where currency_purchases is null"
        ).fetchall()[0][0]
    )
    if not journal.any and before == inputs and not stale:
        fit = ModelFit(**stored["fit"])
        return _result(conn, fit, as_of, time.perf_counter() - started, changed=False)
    same_rules = before.get("rules") == inputs["rules"]
    since = datetime.fromisoformat(before["as_of"]) if "as_of" in before else None
    everything = journal.first or not same_rules or since is None or since > as_of or stale
    kept = ModelFit(**stored["fit"]) if "fit" in stored else None
    stage_engagement(conn, rules)
    try:
        with sql.transaction(conn):
            _update_purchases(conn, rules, journal)
            _update_metrics(conn, as_of, since, everything)
            fit = _choose_and_predict(conn, rules, as_of, kept if same_rules else None)
            conn.execute(
                sql.load("metrics/replace_customer_value"),
                {"horizon": rules.horizon_days, "unfitted_reason": fit.unfitted_reason or ""},
            )
            changes.store_rules(
                conn, "metrics", json.dumps({"inputs": inputs, "fit": asdict(fit)}, sort_keys=True)
            )
            changes.new_version(conn, "customer_metrics")
    finally:
        for table in (
            "engagement_events",
            "value_predictions",
            "purchase_identities",
            "purchase_changed_days",
            "followed_purchases",
            "purchase_moved_rows",
            "metric_identities",
        ):
            conn.execute(f"drop table if exists {table}")
    return _result(conn, fit, as_of, time.perf_counter() - started, changed=True)


def _update_metrics(
    conn: duckdb.DuckDBPyConnection, as_of: datetime, since: datetime | None, everything: bool
) -> None:
    """Make the rows of the identities this run touched again from their events (every row:
    `everything`), then take every row to `as_of` and rank RFM again, reading no event."""
    if everything:
        conn.execute("delete from customer_metrics")
        conn.execute("create or replace temp table metric_identities (identity_id varchar)")
    else:
        conn.execute(sql.load("metrics/metric_identities"), {"since": since, "as_of": as_of})
        conn.execute(
            "delete from customer_metrics "
            "where identity_id in (select identity_id from metric_identities)"
        )
    conn.execute(
        sql.load("metrics/customer_metrics"), {"as_of": as_of, "all_identities": everything}
    )
    conn.execute(sql.load("metrics/customer_metrics_as_of"), {"as_of": as_of})
    conn.execute(sql.load("metrics/customer_metrics_rfm"))


def forget_values(conn: duckdb.DuckDBPyConnection) -> None:
    """Empty purchases, metrics and values and forget what the stage took in: the next
    `update_values` builds them anew from the whole journal (a full refresh)."""
    ensure_tables(conn)
    with sql.transaction(conn):
        for table in ("purchases", "customer_metrics", "customer_value"):
            conn.execute(f"delete from {table}")
        changes.forget(conn, "metrics")


def _result(
    conn: duckdb.DuckDBPyConnection, fit: ModelFit, as_of: datetime, seconds: float, changed: bool
) -> ValueResult:
    identities, buyers = conn.execute(
        "select count(*), count(*) filter (where total_purchases > 0) from customer_metrics"
    ).fetchall()[0]
    purchases = conn.execute(
        "select count(*) from purchases where problem is null and occurred_at < $as_of",
        {"as_of": as_of},
    ).fetchall()[0][0]
    bad = dict(
        conn.execute(
            "select problem, count(*) from purchases where problem is not null group by 1"
        ).fetchall()
    )
    return ValueResult(
        identities=identities,
        buyers=buyers,
        purchases=purchases,
        bad_purchases=bad,
        fit=fit,
        as_of=as_of,
        seconds=seconds,
        changed=changed,
    )


def _update_purchases(
    conn: duckdb.DuckDBPyConnection, rules: ValueRules, journal: changes.Pending
) -> None:
    """Bring `purchases` in step with the journal: the journal's changed days are read again,
    and purchases on other days follow the rows the journal logged as moved (every purchase
    is read again after a change of purchase rules, or when the journal's log holds versions
    from before it logged rows)."""
    fingerprint = json.dumps([rule_parameters(rule) for rule in rules.purchases], sort_keys=True)
    everything = (
        not changes.rows_logged(conn, journal)
        or changes.applied_rules(conn, "purchases") != fingerprint
        # purchases kept before they had their journal day cannot follow it
        or conn.execute("select count(*) from purchases where day is null").fetchall()[0][0] > 0
    )
    if journal.first:
        conn.execute("create or replace temp table purchase_identities (identity_id varchar)")
    else:
        # whose metrics follow the journal's changes, however purchases are brought in step
        changes.stage_identities(conn, journal, "purchase_identities")
    if everything:
        conn.execute("delete from purchases")
        conn.execute("create or replace temp table purchase_changed_days (day date)")
    else:
        changes.stage_days(conn, journal, "purchase_changed_days")
        changes.stage_rows(conn, journal, "purchase_moved_rows")
        conn.execute(sql.load("metrics/follow_purchases"))
    for rule in rules.purchases:
        conn.execute(
            sql.load("metrics/insert_purchases"),
            rule_parameters(rule) | {"all_identities": everything},
        )
    changes.store_rules(conn, "purchases", fingerprint)
    changes.consume(conn, journal)


def _choose_and_predict(
    conn: duckdb.DuckDBPyConnection, rules: ValueRules, as_of: datetime, kept: ModelFit | None
) -> ModelFit:
    """Predict as of `as_of` with the model fitted on the fit day `cadence.py` names for it:
    `kept` when that is the day it was fitted on, else chosen by backtest and fitted there.
    The buyers' predictions go where the SQL reads them (temp table value_predictions); no
    rows, and the reason, when no model may predict."""
    history = conn.execute(
        "select date_diff('day', min(first_purchase_at)::date, $as_of::date) from customer_metrics",
        {"as_of": as_of},
    ).fetchall()[0][0]
    history = history or 0
    needed = rules.min_history_multiple * rules.horizon_days
    candidates = Candidates(conn, rules, summarised=as_of)
    fit = ModelFit(bg_nbd=None, history_days=history)
    prediction = None
    if history < needed:
        fit = replace(
            fit,
            unfitted_reason=f"history of {history} day{'' if history == 1 else 's'} is "
            f"shorter than {needed:g} "
            f"({rules.min_history_multiple:g} x {rules.horizon_days})",
        )
    elif reason := candidates.too_few(candidates.features(as_of)):
        fit = replace(fit, unfitted_reason=reason)
    else:
        when = cadence.fit_day(candidates.features(as_of), rules, as_of)
        day = when.fit_day
        if kept and kept.fitted_at == day.isoformat():
            fit = replace(
                kept,
                history_days=history,
                fit_reason=f"kept: fitted {day:%Y-%m-%d}, {when.new_buyers:.0%} new buyers",
            )
        else:
            why = (
                "no fit under these rules yet"
                if kept is None or kept.fitted_at is None
                else when.why
            )
            fit, prediction = _fit(candidates, day, replace(fit, fit_reason=f"refitted: {why}"))
        if fit.unfitted_reason is None and day != as_of:
            prediction = candidates.predict(fit.chosen, as_of, _fitted(fit), day)
            if prediction.value is None:
                fit, prediction = replace(fit, unfitted_reason=prediction.reason), None
        if prediction is not None:
            prediction = _noted(prediction, fit.note, fit.calibration)
    # no prediction reads no purchase: the seed's formula stands in, from customer_metrics
    _stage_predictions(conn, candidates.features(as_of) if prediction else {}, prediction)
    return fit


def _fit(
    candidates: Candidates, day: datetime, fit: ModelFit
) -> tuple[ModelFit, Prediction | None]:
    """The model the backtest before `day` chooses, fitted on the buyers at `day`, and its
    prediction there (none, and the reason in the fit, when it does not fit)."""
    backtest = run_backtest(candidates, day)
    chosen = backtest.chosen or CANDIDATES[0]
    fit = replace(
        fit,
        chosen=chosen,
        backtest_cut=backtest.cut.isoformat(),
        candidates=backtest.rows(),
        fitted_at=day.isoformat(),
    )
    prediction = candidates.predict(chosen, day)
    if prediction.value is None:
        return replace(fit, unfitted_reason=prediction.reason), None
    note, factor = _calibration(backtest.scores.get(chosen), backtest.out)
    fit = replace(
        fit,
        bg_nbd=prediction.bg_nbd,
        pareto_nbd=prediction.pareto_nbd,
        gamma_gamma=prediction.gamma_gamma,
        gamma_gamma_unfitted=prediction.gamma_gamma_unfitted,
        gamma_gamma_penalizers=prediction.gamma_gamma_penalizers,
        calibration=factor,
        note=note,
    )
    return fit, prediction


def _fitted(fit: ModelFit) -> Prediction:
    """The stored fit's parameters, as the candidates take them."""
    return Prediction(
        fit.chosen,
        bg_nbd=fit.bg_nbd,
        pareto_nbd=fit.pareto_nbd,
        gamma_gamma=fit.gamma_gamma,
        gamma_gamma_unfitted=fit.gamma_gamma_unfitted,
        gamma_gamma_penalizers=fit.gamma_gamma_penalizers,
    )


def _calibration(chosen, out: dict[str, str]) -> tuple[str | None, float]:
    """What the method adds about the chosen model's backtest, and the factor that brings
    its backtest total to the actual when it was off by more than the tolerance."""
    if chosen is None:
        reasons = set(out.values())
        if len(reasons) == 1:
            return f"not backtested: {reasons.pop()}", 1.0
        return "not backtested: " + "; ".join(f"{k}: {v}" for k, v in out.items()), 1.0
    note = None
    if chosen.method == CANDIDATES[-1]:
        note = "no fitted model did better on the backtest"
    error = chosen.total_error
    if abs(error) <= TOTAL_TOLERANCE:
        return note, 1.0
    if chosen.predicted_total == 0:
        return "; ".join(filter(None, [note, "predicted nothing on the backtest"])), 1.0
    factor = chosen.actual_total / chosen.predicted_total
    scaled = f"total {error:+.0%} on the backtest, scaled by {factor:.3f}"
    return "; ".join(filter(None, [note, scaled])), factor


def _noted(prediction: Prediction, note: str | None, factor: float) -> Prediction:
    """The prediction scaled by `factor`, each buyer's method carrying `note`."""
    methods = prediction.methods
    if note:
        sep = np.where(np.char.find(methods.astype(str), ":") >= 0, "; ", ": ")
        methods = np.char.add(np.char.add(methods.astype(str), sep), note).astype(object)
    order_value = prediction.order_value
    return Prediction(
        prediction.name,
        value=prediction.value * factor,
        purchases=prediction.purchases,
        order_value=None if order_value is None else order_value * factor,
        methods=methods,
    )


def _stage_predictions(
    conn: duckdb.DuckDBPyConnection, features: dict[str, np.ndarray], prediction
) -> None:
    """The buyers' predictions (none when no model predicts) into temp table value_predictions."""
    if prediction is None:
        ids, value, purchases, order_value, methods = [], [], [], [], []
    else:
        n = len(features["identity_id"])
        nothing = [None] * n
        ids, value = features["identity_id"].tolist(), prediction.value.tolist()
        purchases = nothing if prediction.purchases is None else prediction.purchases.tolist()
        order_value = nothing if prediction.order_value is None else prediction.order_value.tolist()
        methods = [str(m) for m in prediction.methods]
    rows = pa.table(
        {
            "identity_id": pa.array(ids, pa.string()),
            "predicted_value": pa.array(value, pa.float64()),
            "predicted_purchases": pa.array(purchases, pa.float64()),
            "predicted_order_value": pa.array(order_value, pa.float64()),
            "method": pa.array(methods, pa.string()),
        }
    )
    sql.insert_arrow(conn, "value_predictions", rows, replace_temp=True)
