"""Customer metrics in SQL, and a predicted 90-day value from BG/NBD and Gamma-Gamma.

The metrics are whole-table SQL (`sql/`). The value model is fitted by maximum likelihood with
`lifetimes` (BG/NBD for how many purchases, Gamma-Gamma for how much each is worth), on the
buyers' summaries grouped into distinct (x, t_x, T) rows with weights, so a million identities
cost what a few thousand rows cost. The seed's formula is kept beside it as the baseline and
for the identities the model cannot score.

The optimiser's result depends on the order of its input rows (in the last bits, and sometimes
in whether it converges at all), so both fitters sort their input first: the same data gives
the same parameters on every run.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import warnings
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa

from identity_assets import changes, sql
from identity_assets.metrics.rules import ValueRules, rule_parameters, stage_engagement


@dataclass(frozen=True)
class ModelFit:
    """The fitted parameters, or why there are none (per currency for Gamma-Gamma), and the
    L2 penalty each Gamma-Gamma fit needed to converge where it needed one."""

    bg_nbd: dict[str, float] | None
    gamma_gamma: dict[str, dict[str, float]] = field(default_factory=dict)
    unfitted_reason: str | None = None
    gamma_gamma_unfitted: dict[str, str] = field(default_factory=dict)
    gamma_gamma_penalizers: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class GammaGammaFit:
    """Gamma-Gamma parameters and the L2 penalty they needed, or why there are none."""

    params: dict[str, float] | None
    penalizer: float | None = None
    reason: str | None = None


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
    conn.execute(sql.load("metrics/create_tables"))
    sql.create_macros(conn)


def data_end(conn: duckdb.DuckDBPyConnection) -> datetime:
    """Midnight after the last journal event: metrics are taken as of the end of the data."""
    last = conn.execute("select max(occurred_at) from identity_journal").fetchall()[0][0]
    if last is None:
        return datetime(1970, 1, 2)
    return datetime.combine(last.date(), datetime.min.time()) + timedelta(days=1)


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
    inputs = json.dumps({"rules": asdict(rules), "as_of": as_of.isoformat()}, sort_keys=True)
    stored = json.loads(changes.applied_rules(conn, "metrics") or "{}")
    if not journal.any and stored.get("inputs") == inputs:
        fit = ModelFit(**stored["fit"])
        return _result(conn, fit, as_of, time.perf_counter() - started, changed=False)
    stage_engagement(conn, rules)
    try:
        with sql.transaction(conn):
            _update_purchases(conn, rules, journal)
            conn.execute(sql.load("metrics/customer_metrics"), {"as_of": as_of})
            fit = _fit_and_predict(conn, rules)
            conn.execute(
                sql.load("metrics/replace_customer_value"),
                {"horizon": rules.horizon_days, "unfitted_reason": fit.unfitted_reason or ""},
            )
            changes.store_rules(conn, "metrics", json.dumps({"inputs": inputs, "fit": asdict(fit)}))
            changes.new_version(conn, "customer_metrics")
    finally:
        for table in (
            "engagement_events",
            "expected_purchases",
            "gamma_gamma_fits",
            "purchase_identities",
        ):
            conn.execute(f"drop table if exists {table}")
    return _result(conn, fit, as_of, time.perf_counter() - started, changed=True)


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
    """Bring `purchases` in step with the journal: the purchases of the identities whose
    journal changed are read again (every identity's after a change of purchase rules)."""
    fingerprint = json.dumps([rule_parameters(rule) for rule in rules.purchases], sort_keys=True)
    everything = journal.first or changes.applied_rules(conn, "purchases") != fingerprint
    if everything:
        conn.execute("delete from purchases")
        conn.execute("create or replace temp table purchase_identities (identity_id varchar)")
    else:
        changes.stage_identities(conn, journal, "purchase_identities")
        conn.execute(
            "delete from purchases "
            "where identity_id in (select identity_id from purchase_identities)"
        )
    for rule in rules.purchases:
        conn.execute(
            sql.load("metrics/insert_purchases"),
            rule_parameters(rule) | {"all_identities": everything},
        )
    changes.store_rules(conn, "purchases", fingerprint)
    changes.consume(conn, journal)


def _fit_and_predict(conn: duckdb.DuckDBPyConnection, rules: ValueRules) -> ModelFit:
    """Fit BG/NBD on every buyer and Gamma-Gamma per currency; stage what the SQL joins."""
    rows = conn.execute(sql.load("metrics/bg_nbd_input")).fetchnumpy()
    x, t_x, age, weights = (
        np.asarray(rows[name], dtype=float) for name in ("x", "t_x", "age", "buyers")
    )
    repeat_buyers = int(weights[x > 0].sum())
    expected = np.array([], dtype=float)
    fit = ModelFit(bg_nbd=None, unfitted_reason=None)
    if repeat_buyers < rules.min_repeat_buyers:
        fit = ModelFit(
            bg_nbd=None,
            unfitted_reason=f"too few repeat buyers to fit ({repeat_buyers} < "
            f"{rules.min_repeat_buyers})",
        )
    else:
        bg_nbd = fit_bg_nbd(x, t_x, age, weights)
        if bg_nbd is None:
            fit = ModelFit(bg_nbd=None, unfitted_reason="BG/NBD did not converge on this data")
        else:
            expected = expected_purchases(bg_nbd, rules.horizon_days, x, t_x, age)
            fit = ModelFit(bg_nbd=bg_nbd)
    if fit.bg_nbd is None:
        x = t_x = age = np.array([], dtype=float)
    expected_rows = pa.table(
        {"x": x.astype(np.int64), "t_x": t_x, "age": age, "expected_purchases": expected}
    )
    sql.insert_arrow(conn, "expected_purchases", expected_rows, replace_temp=True)

    fits: dict[str, dict[str, float]] = {}
    unfitted: dict[str, str] = {}
    penalizers: dict[str, float] = {}
    if fit.bg_nbd is not None:
        currencies = [
            c
            for (c,) in conn.execute(
                "select distinct currency from customer_metrics where currency is not null "
                "order by 1"
            ).fetchall()
        ]
        for currency in currencies:
            data = conn.execute(
                sql.load("metrics/gamma_gamma_input"), {"currency": currency}
            ).fetchnumpy()
            if len(data["x"]) < rules.min_repeat_buyers:
                unfitted[currency] = (
                    f"too few repeat buyers in {currency} ({len(data['x'])} < "
                    f"{rules.min_repeat_buyers})"
                )
                continue
            gamma_gamma = fit_gamma_gamma(
                np.asarray(data["x"], float), np.asarray(data["m"], float)
            )
            if gamma_gamma.params is None:
                unfitted[currency] = f"{gamma_gamma.reason} for {currency}"
            else:
                fits[currency] = gamma_gamma.params
                if gamma_gamma.penalizer:
                    penalizers[currency] = gamma_gamma.penalizer
    fitted = pa.table(
        {
            "currency": pa.array([*fits, *unfitted], pa.string()),
            **{
                k: pa.array([f[k] for f in fits.values()] + [None] * len(unfitted), pa.float64())
                for k in ("p", "q", "v")
            },
            "reason": pa.array([None] * len(fits) + list(unfitted.values()), pa.string()),
        }
    )
    sql.insert_arrow(conn, "gamma_gamma_fits", fitted, replace_temp=True)
    return ModelFit(
        bg_nbd=fit.bg_nbd,
        gamma_gamma=fits,
        unfitted_reason=fit.unfitted_reason,
        gamma_gamma_unfitted=unfitted,
        gamma_gamma_penalizers=penalizers,
    )


def fit_bg_nbd(
    x: np.ndarray, t_x: np.ndarray, age: np.ndarray, weights: np.ndarray | None = None
) -> dict[str, float] | None:
    """Maximum-likelihood BG/NBD parameters (r, alpha, a, b) for buyers summarised by day.

    When the optimiser does not converge (little history, few repeat buyers) it tries again
    with a growing L2 penalty, as lifetimes suggests; None when no attempt converges.
    """
    from lifetimes import BetaGeoFitter
    from lifetimes.utils import ConvergenceError

    weights = np.ones_like(x) if weights is None else weights
    x, t_x, age, weights = _sorted(x, t_x, age, weights)

    for penalizer in (0.0, 0.001, 0.01, 0.1):
        model = BetaGeoFitter(penalizer_coef=penalizer)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            try:
                model.fit(x, t_x, age, weights=weights)
            except ConvergenceError:
                continue
        params = {name: float(value) for name, value in model.params_.items()}
        if np.isfinite(list(params.values())).all():
            return params
    return None


def expected_purchases(
    params: dict[str, float], horizon: float, x: np.ndarray, t_x: np.ndarray, age: np.ndarray
) -> np.ndarray:
    """BG/NBD expected purchases in the next `horizon` days, given each buyer's history."""
    from lifetimes import BetaGeoFitter

    model = BetaGeoFitter()
    model.params_ = _series(params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = model.conditional_expected_number_of_purchases_up_to_time(horizon, x, t_x, age)
    return np.clip(np.nan_to_num(np.asarray(expected, dtype=float), nan=0.0), 0.0, None)


def fit_gamma_gamma(x: np.ndarray, m: np.ndarray) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma parameters (p, q, v) for repeat buyers' x and mean spend m.

    Like BG/NBD, a fit that does not converge is tried again with a growing L2 penalty. No
    parameters, with the reason, when no attempt converges or the fit has no finite mean.
    """
    from lifetimes import GammaGammaFitter
    from lifetimes.utils import ConvergenceError

    x, m = _sorted(x, m)
    reason = "Gamma-Gamma did not converge"
    for penalizer in (0.0, 0.001, 0.01, 0.1):
        model = GammaGammaFitter(penalizer_coef=penalizer)
        # lifetimes prints the optimiser's report when a fit does not converge
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            try:
                model.fit(x, m)
            except ConvergenceError:
                continue
            except Exception as error:  # noqa: BLE001 - any other failure: no fit, say which
                return GammaGammaFit(None, reason=f"Gamma-Gamma failed ({type(error).__name__})")
        params = {name: float(value) for name, value in model.params_.items()}
        if not np.isfinite(list(params.values())).all():
            reason = "Gamma-Gamma gave non-finite parameters"
            continue
        if params["q"] <= 1:
            return GammaGammaFit(None, reason="Gamma-Gamma has no finite mean (q <= 1)")
        return GammaGammaFit(params, penalizer=penalizer)
    return GammaGammaFit(None, reason=reason)


def _sorted(*columns: np.ndarray) -> tuple[np.ndarray, ...]:
    """The rows of these columns in one total order (by every column, the first most
    significant), as float arrays."""
    arrays = [np.asarray(c, dtype=float) for c in columns]
    order = np.lexsort(arrays[::-1])
    return tuple(a[order] for a in arrays)


def _series(params: dict[str, float]):
    import pandas as pd

    return pd.Series(params)
