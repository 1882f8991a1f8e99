"""Backtest: predict a holdout from the history before it, and score each method.

The history is cut `horizon` days before its end; metrics and the model see only the part
before the cut (the stage chooses its model by its own backtest inside that part), and each
method's predicted value is compared with what every identity that had bought by then
actually spent after it: mean absolute and root mean squared error, Spearman rank
correlation, and the totals. The methods: what the stage wrote (`chosen: <model>`), every
candidate fitted on the same history, and the seed's formula.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import duckdb
import numpy as np

from identity_assets.metrics import models
from identity_assets.metrics.rules import ValueRules
from identity_assets.metrics.selection import (  # noqa: F401 - score is part of this API
    CANDIDATES,
    Candidates,
    MethodScore,
    run_backtest,
    score,
)
from identity_assets.metrics.value import ValueResult, data_end, update_values


def backtest(
    conn: duckdb.DuckDBPyConnection,
    rules: ValueRules | None = None,
    cutoff: datetime | None = None,
) -> tuple[ValueResult, list[MethodScore]]:
    """Fit on the history before `cutoff` (default: horizon days before the end) and score:
    the stage's prediction first, then each candidate, then the seed's formula.

    It rewrites the metrics stage's tables as of the cutoff, with the model refitted there
    (whatever the refit cadence): run it on a scratch warehouse.
    """
    rules = replace(rules or ValueRules(), refit_days=1)
    cutoff = cutoff or data_end(conn) - timedelta(days=rules.horizon_days)
    result = update_values(conn, rules, as_of=cutoff)
    candidates = Candidates(conn, rules)
    run_backtest(candidates, cutoff)  # the fits the stage started from: the same numbers
    features = candidates.features(cutoff)
    actual = features["actual"]
    values = {
        identity: (predicted, baseline)
        for identity, predicted, baseline in conn.execute(
            "select identity_id, predicted_90d_value, baseline_90d_value from customer_value"
        ).fetchall()
    }
    stage, baseline = (
        np.array([values[i][k] for i in features["identity_id"].tolist()], dtype=float)
        for k in (0, 1)
    )
    scores = [score(f"chosen: {result.fit.chosen or 'none'}", stage, actual)]
    for name in CANDIDATES:
        prediction = candidates.predict(name, cutoff)
        if prediction.value is not None:
            scores.append(score(name, prediction.value, actual))
    scores.append(score("baseline (seed formula)", baseline, actual))
    return result, scores


@dataclass(frozen=True)
class RankCeilings:
    """How high Spearman can go on a holdout where most buyers spend nothing (ties at zero,
    given their average rank), so a model's Spearman can be read against what is reachable.

    `who_buys`: an oracle that knows who buys and ties the rest, as the holdout does;
    `strict`: an oracle that orders the buyers by what they spent and gives everyone a value
    of their own, as a model does; `repeat_days` and `repeat_days_strict`: repeat purchase days
    alone (one-time buyers tied at zero), and with those ties broken by BG/NBD + Gamma-Gamma's
    value; `model_world`: per count model, the mean Spearman of its own expected value against
    spend drawn from that model (each buyer's posterior given its history, order values known
    exactly): what the model would score if the buyers behaved exactly as it says."""

    who_buys: float
    strict: float
    repeat_days: float
    repeat_days_strict: float
    model_world: dict[str, float] = field(default_factory=dict)


def rank_ceilings(
    candidates: Candidates, cut: datetime, draws: int = 20, seed: int = 0
) -> RankCeilings:
    """The ceilings at `cut` (each buyer's features before it, spend in the window after)."""
    f = candidates.features(cut)
    actual = f["actual"]

    def spearman(predicted: np.ndarray, spent: np.ndarray = actual) -> float:
        return score("", predicted, spent).spearman

    def strict(*keys: np.ndarray) -> np.ndarray:
        """Distinct ranks ordered by the keys, the first most significant."""
        ranks = np.empty(len(actual))
        ranks[np.lexsort(keys[::-1])] = np.arange(len(actual))
        return ranks

    bg_nbd = candidates.predict("bg_nbd_gamma_gamma", cut)
    tie_breaker = bg_nbd.value if bg_nbd.value is not None else f["recent_spend"]
    rng = np.random.default_rng(seed)
    model_world = {}
    for name in ("bg_nbd_gamma_gamma", "pareto_nbd_gamma_gamma"):
        prediction = candidates.predict(name, cut)
        if prediction.value is None:
            continue
        spent = _draw_spend(prediction, f, candidates.horizon.days, draws, rng)
        drawn = [spearman(prediction.value, row) for row in spent]
        model_world[name] = float(np.mean(drawn))
    return RankCeilings(
        who_buys=spearman((actual > 0).astype(float)),
        strict=spearman(strict(actual)),
        repeat_days=spearman(f["x"]),
        repeat_days_strict=spearman(strict(f["x"], tie_breaker)),
        model_world=model_world,
    )


def _draw_spend(prediction, f: dict[str, np.ndarray], horizon: int, draws: int, rng) -> np.ndarray:
    """`draws` draws (rows) of each buyer's spend in the next `horizon` days from a count
    model's posterior given its history (alive or not; if alive, its purchase rate and its
    dropout), times the buyer's expected order value."""
    x, t_x, age = f["x"], f["t_x"], f["age"]
    shape = (draws, len(x))
    if prediction.bg_nbd is not None:
        p = prediction.bg_nbd
        alive = models.probability_alive(p, x, t_x, age)
        rate = rng.gamma(p["r"] + x, 1 / (p["alpha"] + age), shape)
        # BG/NBD: after each purchase the buyer drops out with probability `dropout`
        dropout = np.clip(rng.beta(p["a"], p["b"] + x, shape), 1e-12, 1.0)
        count = np.minimum(rng.poisson(rate * horizon), rng.geometric(dropout))
    else:
        p = prediction.pareto_nbd
        alive = models.pareto_probability_alive(p, x, t_x, age)
        rate = rng.gamma(p["r"] + x, 1 / (p["alpha"] + age), shape)
        # Pareto/NBD: the buyer drops out after an exponential lifetime
        lifetime = rng.exponential(1 / rng.gamma(p["s"], 1 / (p["beta"] + age), shape))
        count = rng.poisson(rate * np.minimum(lifetime, horizon))
    return np.where(rng.random(shape) < alive, count, 0) * prediction.order_value
