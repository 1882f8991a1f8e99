"""The value model chosen by a backtest on the warehouse's own data.

Four candidates predict each buyer's spend in the next `horizon` days:
- `bg_nbd_gamma_gamma`: BG/NBD expected purchases times Gamma-Gamma expected order value
  (fitted per currency; the buyer's own average where its currency has no fit);
- `pareto_nbd_gamma_gamma`: the same with Pareto/NBD for the purchases;
- `gradient_boosting`: a supervised model trained on the previous window's outcomes, from RFM
  and BTYD features (`FEATURES`, BG/NBD's expected purchases and probability alive among them);
- `recent_spend`: the simple baseline, what the buyer spent in the last `horizon` days.

The backtest cuts the history `horizon` days before `as_of`, predicts with each candidate from
the part before and scores it against what each buyer spent after (MAE, Spearman, totals). The
rule (`choose`): a candidate that did not fit or whose parameters are degenerate is out; of the
rest, those whose predicted total is within `TOTAL_TOLERANCE` of the actual are preferred (all
of them when none is); among those, the ones whose MAE is at most `MAE_SLACK` above the lowest;
of these, the highest Spearman wins (then the lower MAE, then the order above).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb
import numpy as np

from identity_assets import sql
from identity_assets.metrics import models
from identity_assets.metrics.rules import ValueRules

CANDIDATES = (
    "bg_nbd_gamma_gamma",
    "pareto_nbd_gamma_gamma",
    "gradient_boosting",
    "recent_spend",
)
BASELINE = "recent_spend"
TOTAL_TOLERANCE = 0.10
MAE_SLACK = 0.10
# Pareto/NBD's likelihood costs about 4 ms per thousand distinct histories and ~700 steps:
# past this many, it is fitted on every k-th buyer (in identity id order, which the ids' hash
# makes a fair draw) until its histories fit under the cap.
PARETO_MAX_HISTORIES = 5000
FEATURES = (
    "x",
    "t_x",
    "age",
    "recency",
    "rate",
    "m",
    "purchases",
    "spend",
    "avg_order_value",
    "recent_spend",
    "recent_days",
    "bg_nbd_expected",
    "bg_nbd_alive",
)


@dataclass(frozen=True)
class MethodScore:
    """How well one method predicted the holdout."""

    method: str
    identities: int
    mae: float
    rmse: float
    spearman: float
    predicted_total: float
    actual_total: float

    @property
    def total_error(self) -> float:
        """Predicted total over actual, minus one (+0.13: 13% high)."""
        if self.actual_total == 0:
            return 0.0 if self.predicted_total == 0 else math.inf
        return self.predicted_total / self.actual_total - 1


def score(method: str, predicted: np.ndarray, actual: np.ndarray) -> MethodScore:
    """The scores of one method's predictions against what happened."""
    error = predicted - actual
    constant = len(actual) < 2 or np.ptp(actual) == 0 or np.ptp(predicted) == 0
    from scipy.stats import spearmanr  # scipy loads when a model is scored, not at start-up

    rank = float("nan") if constant else spearmanr(predicted, actual).statistic
    return MethodScore(
        method=method,
        identities=len(actual),
        mae=float(np.mean(np.abs(error))) if len(actual) else float("nan"),
        rmse=float(np.sqrt(np.mean(error**2))) if len(actual) else float("nan"),
        spearman=float(rank),
        predicted_total=float(predicted.sum()),
        actual_total=float(actual.sum()),
    )


@dataclass(frozen=True)
class Prediction:
    """One candidate's prediction for every buyer at a cut (in the features' order), with
    the parameters it fitted, or the reason it has none."""

    name: str
    value: np.ndarray | None = None
    purchases: np.ndarray | None = None
    order_value: np.ndarray | None = None
    methods: np.ndarray | None = None  # per buyer: the candidate, or why its own average
    bg_nbd: dict[str, float] | None = None
    pareto_nbd: dict[str, float] | None = None
    gamma_gamma: dict[str, dict[str, float]] = field(default_factory=dict)
    gamma_gamma_unfitted: dict[str, str] = field(default_factory=dict)
    gamma_gamma_penalizers: dict[str, float] = field(default_factory=dict)
    reason: str | None = None


class Candidates:
    """Fits and predicts the candidates at any cut of the warehouse's purchases, keeping each
    cut's features and BG/NBD fit for the candidates that share them."""

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        rules: ValueRules,
        summarised: datetime | None = None,
    ) -> None:
        self.conn = conn
        self.rules = rules
        self.summarised = summarised  # customer_metrics' as_of, when it is up to date
        self.horizon = timedelta(days=rules.horizon_days)
        self._features: dict[datetime, dict[str, np.ndarray]] = {}
        self._bg_nbd: dict[datetime, tuple[dict[str, float] | None, str | None]] = {}
        self._pareto_nbd: dict[datetime, dict[str, float]] = {}
        self._predictions: dict[tuple[str, datetime], Prediction] = {}

    def features(self, as_of: datetime) -> dict[str, np.ndarray]:
        """Each buyer's features at `as_of` and what it spent in the `horizon` days after: at
        the day customer_metrics summarises, from its summaries, else from the purchases."""
        if as_of not in self._features:
            if as_of == self.summarised:
                query = sql.load("metrics/buyer_features")
                params = {"as_of": as_of, "horizon": self.horizon.days}
            else:
                query = sql.load("metrics/value_features")
                params = {
                    "as_of": as_of,
                    "until": as_of + self.horizon,
                    "horizon": self.horizon.days,
                }
            rows = self.conn.execute(query, params).fetchnumpy()
            f = {
                name: np.asarray(v) if name in ("identity_id", "currency") else np.asarray(v, float)
                for name, v in rows.items()
            }
            f["recency"] = f["age"] - f["t_x"]
            f["rate"] = f["x"] / np.maximum(f["age"], 1.0)
            self._features[as_of] = f
        return self._features[as_of]

    def bg_nbd(self, as_of: datetime) -> tuple[dict[str, float] | None, str | None]:
        """BG/NBD fitted on the buyers at `as_of`, or why there is none."""
        if as_of not in self._bg_nbd:
            f = self.features(as_of)
            reason = self.too_few(f)
            params = None if reason else models.fit_bg_nbd(*_grouped(f))
            if reason is None and params is None:
                reason = "BG/NBD did not converge on this data"
            if params is not None and (bad := models.degenerate(params)):
                params, reason = None, f"BG/NBD {bad}"
            self._bg_nbd[as_of] = (params, reason)
        return self._bg_nbd[as_of]

    def predict(
        self,
        name: str,
        as_of: datetime,
        fitted: Prediction | None = None,
        fitted_at: datetime | None = None,
    ) -> Prediction:
        """Candidate `name`'s prediction for the buyers at `as_of`: fitted at `as_of` (once per
        cut: a backtest and the scores beside it read the same fit), or with the parameters of
        `fitted`, a fit made at `fitted_at` (no count model is fitted again; gradient boosting
        is trained again on the window before `fitted_at`)."""
        if fitted is not None:
            return self._predict(name, as_of, fitted, fitted_at)
        if (name, as_of) not in self._predictions:
            self._predictions[name, as_of] = self._predict(name, as_of)
        return self._predictions[name, as_of]

    def _predict(
        self,
        name: str,
        as_of: datetime,
        fitted: Prediction | None = None,
        fitted_at: datetime | None = None,
    ) -> Prediction:
        f = self.features(as_of)
        if len(f["x"]) == 0:
            return Prediction(name, reason=f"no buyers before {as_of:%Y-%m-%d}")
        if name == BASELINE:
            return Prediction(name, value=f["recent_spend"], methods=_repeat(name, f))
        if name == "gradient_boosting":
            return self._boosting(as_of, fitted_at or as_of, fitted)
        if name == "bg_nbd_gamma_gamma":
            params, reason = (fitted.bg_nbd, None) if fitted else self.bg_nbd(as_of)
            if params is None:
                return Prediction(name, reason=reason)
            purchases = models.expected_purchases(
                params, self.horizon.days, f["x"], f["t_x"], f["age"]
            )
            return self._with_order_value(name, "bg_nbd", f, purchases, fitted, bg_nbd=params)
        if name == "pareto_nbd_gamma_gamma":
            if fitted:
                params, reason = fitted.pareto_nbd, None
            else:
                params, reason = self._pareto_nbd_at(as_of)
            if params is None:
                return Prediction(name, reason=reason)
            purchases = models.pareto_expected_purchases(
                params, self.horizon.days, f["x"], f["t_x"], f["age"]
            )
            return self._with_order_value(
                name, "pareto_nbd", f, purchases, fitted, pareto_nbd=params
            )
        raise ValueError(f"unknown value model {name}")

    def _pareto_nbd_at(self, as_of: datetime) -> tuple[dict[str, float] | None, str | None]:
        """Pareto/NBD fitted on the buyers at `as_of`, or why there is none."""
        reason = self.too_few(self.features(as_of))
        params = None if reason else self._fit_pareto_nbd(as_of)
        if reason is None and params is None:
            reason = "Pareto/NBD did not converge on this data"
        if params is not None and (bad := models.degenerate(params)):
            params, reason = None, f"Pareto/NBD {bad}"
        return params, reason

    def _fit_pareto_nbd(self, as_of: datetime) -> dict[str, float] | None:
        """Pareto/NBD at `as_of` on at most PARETO_MAX_HISTORIES distinct histories, started
        from the fit a window earlier, or else from BG/NBD's purchase rate at `as_of`."""
        f = self.features(as_of)
        step = 1
        while len(_grouped(f, step)[0]) > PARETO_MAX_HISTORIES:
            step *= 2
        start = self._pareto_nbd.get(as_of - self.horizon)
        if start is None and (bg_nbd := self.bg_nbd(as_of)[0]) is not None:
            start = {"r": bg_nbd["r"], "alpha": bg_nbd["alpha"]}
        params = models.fit_pareto_nbd(*_grouped(f, step), start=start)
        if params is not None:
            self._pareto_nbd[as_of] = params
        return params

    def too_few(self, f: dict[str, np.ndarray]) -> str | None:
        repeat_buyers = int((f["x"] > 0).sum())
        if repeat_buyers < self.rules.min_repeat_buyers:
            return (
                f"too few repeat buyers to fit ({repeat_buyers} < {self.rules.min_repeat_buyers})"
            )
        return None

    def _with_order_value(
        self,
        name: str,
        counts: str,
        f: dict[str, np.ndarray],
        purchases: np.ndarray,
        fitted: Prediction | None = None,
        **params,
    ) -> Prediction:
        """Expected purchases times Gamma-Gamma's expected order value per currency (fitted
        here, or `fitted`'s), or the buyer's own average order value where its currency has no
        fit."""
        order_value = f["avg_order_value"].copy()
        methods = _repeat(name, f)
        fits, unfitted, penalizers = {}, {}, {}
        for currency in sorted(set(f["currency"].tolist())):
            rows = f["currency"] == currency
            if fitted:
                fit = models.GammaGammaFit(
                    fitted.gamma_gamma.get(currency),
                    fitted.gamma_gamma_penalizers.get(currency),
                    fitted.gamma_gamma_unfitted.get(currency, f"no Gamma-Gamma fit for {currency}"),
                )
            else:
                fit = self._gamma_gamma(currency, f, rows)
            if fit.params is None:
                unfitted[currency] = fit.reason
                methods[rows] = f"{counts}_own_average: {fit.reason}"
            else:
                fits[currency] = fit.params
                if fit.penalizer:
                    penalizers[currency] = fit.penalizer
                p, q, v = (fit.params[k] for k in ("p", "q", "v"))
                x, m = f["x"][rows], f["m"][rows]
                order_value[rows] = p * (v + x * m) / (p * x + q - 1)
        return Prediction(
            name,
            value=purchases * order_value,
            purchases=purchases,
            order_value=order_value,
            methods=methods,
            gamma_gamma=fits,
            gamma_gamma_unfitted=unfitted,
            gamma_gamma_penalizers=penalizers,
            **params,
        )

    def _gamma_gamma(
        self, currency: str, f: dict[str, np.ndarray], rows: np.ndarray
    ) -> models.GammaGammaFit:
        """Gamma-Gamma fitted on the repeat buyers of `currency`, or why there is none."""
        minimum = self.rules.min_repeat_buyers
        repeat = rows & (f["x"] > 0) & (f["m"] > 0)
        if repeat.sum() < minimum:
            reason = f"too few repeat buyers in {currency} ({int(repeat.sum())} < {minimum})"
            return models.GammaGammaFit(None, reason=reason)
        fit = models.fit_gamma_gamma(f["x"][repeat], f["m"][repeat])
        if fit.params is None:
            return models.GammaGammaFit(None, reason=f"{fit.reason} for {currency}")
        return fit

    def _boosting(
        self, as_of: datetime, trained_at: datetime, fitted: Prediction | None = None
    ) -> Prediction:
        """Trained on the features a window before `trained_at` and what the buyers spent in
        that window, applied to the features at `as_of` (with BG/NBD's at `trained_at`, or
        `fitted`'s)."""
        name = "gradient_boosting"
        previous = trained_at - self.horizon
        train = self.features(previous)
        outcomes = int((train["actual"] > 0).sum()) if len(train["x"]) else 0
        if outcomes < self.rules.min_repeat_buyers:
            return Prediction(
                name,
                reason=f"too few buyers spent in the window before {trained_at:%Y-%m-%d} "
                f"({outcomes} < {self.rules.min_repeat_buyers})",
            )
        params = fitted.bg_nbd if fitted else self.bg_nbd(trained_at)[0]
        train_matrix = self._matrix(previous, self.bg_nbd(previous)[0])
        matrix = self._matrix(as_of, params)
        # a feature missing at either cut (no BG/NBD fit) is left out of both
        known = ~(np.isnan(train_matrix).all(axis=0) | np.isnan(matrix).all(axis=0))
        value = models.fit_predict_boosting(
            train_matrix[:, known], train["actual"], matrix[:, known]
        )
        return Prediction(
            name, value=value, methods=_repeat(name, self.features(as_of)), bg_nbd=params
        )

    def _matrix(self, as_of: datetime, params: dict[str, float] | None) -> np.ndarray:
        """The supervised model's features at `as_of`, BG/NBD's from `params`; missing (NaN,
        which gradient boosting handles) where it has no fit."""
        f = dict(self.features(as_of))
        missing = np.full(len(f["x"]), np.nan)
        if params is None:
            f["bg_nbd_expected"] = f["bg_nbd_alive"] = missing
        else:
            f["bg_nbd_expected"] = models.expected_purchases(
                params, self.horizon.days, f["x"], f["t_x"], f["age"]
            )
            f["bg_nbd_alive"] = models.probability_alive(params, f["x"], f["t_x"], f["age"])
        return np.column_stack([f[name] for name in FEATURES])


@dataclass(frozen=True)
class Backtest:
    """The candidates' scores at the backtest cut, which one the rule chose, and why the
    others were not."""

    cut: datetime
    scores: dict[str, MethodScore]
    out: dict[str, str]  # candidate: why it has no score
    chosen: str | None

    def rows(self) -> list[dict[str, object]]:
        """One plain row per candidate (for metadata and the stored fit)."""
        rows = []
        for name in CANDIDATES:
            s = self.scores.get(name)
            status = (
                "chosen" if name == self.chosen else f"out: {self.out[name]}" if s is None else ""
            )
            rows.append(
                {
                    "candidate": name,
                    "mae": s.mae if s else None,
                    "rmse": s.rmse if s else None,
                    "spearman": s.spearman if s and math.isfinite(s.spearman) else None,
                    "predicted_total": s.predicted_total if s else None,
                    "actual_total": s.actual_total if s else None,
                    "identities": s.identities if s else None,
                    "status": status,
                }
            )
        return rows


def run_backtest(candidates: Candidates, as_of: datetime) -> Backtest:
    """Score every candidate on the `horizon` days before `as_of`, fitted on what came
    before them, and choose one."""
    cut = as_of - candidates.horizon
    actual = candidates.features(cut)["actual"]
    scores, out = {}, {}
    for name in CANDIDATES:
        prediction = candidates.predict(name, cut)
        if prediction.value is None:
            out[name] = prediction.reason or "no prediction"
        else:
            scores[name] = score(name, prediction.value, actual)
    return Backtest(cut=cut, scores=scores, out=out, chosen=choose(scores))


def choose(scores: dict[str, MethodScore]) -> str | None:
    """The module's rule: total within tolerance first, MAE near the lowest, highest Spearman."""
    pool = [s for s in scores.values() if abs(s.total_error) <= TOTAL_TOLERANCE] or list(
        scores.values()
    )
    if not pool:
        return None
    lowest = min(s.mae for s in pool)
    pool = [s for s in pool if s.mae <= lowest * (1 + MAE_SLACK)]
    best = min(
        pool,
        key=lambda s: (
            -s.spearman if math.isfinite(s.spearman) else math.inf,
            s.mae,
            CANDIDATES.index(s.method),
        ),
    )
    return best.method


def _grouped(f: dict[str, np.ndarray], step: int = 1) -> tuple[np.ndarray, ...]:
    """Buyers' (x, t_x, T) (every `step`-th buyer) as distinct rows with weights: the count
    models fit these."""
    rows, weights = np.unique(
        np.column_stack([f["x"], f["t_x"], f["age"]])[::step], axis=0, return_counts=True
    )
    return rows[:, 0], rows[:, 1], rows[:, 2], weights.astype(float)


def _repeat(name: str, f: dict[str, np.ndarray]) -> np.ndarray:
    return np.full(len(f["x"]), name, dtype=object)
