"""Backtest: predict a holdout from the history before it, and score each method.

The history is cut `horizon` days before its end; metrics and the model see only the part
before the cut, and each method's predicted value is compared with what every identity that
had bought by then actually spent after it: mean absolute and root mean squared error,
Spearman rank correlation, and the totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import numpy as np
from scipy.stats import spearmanr

from identity_assets import sql
from identity_assets.metrics.rules import ValueRules
from identity_assets.metrics.value import ValueResult, data_end, update_values


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


def score(method: str, predicted: np.ndarray, actual: np.ndarray) -> MethodScore:
    """The scores of one method's predictions against what happened."""
    error = predicted - actual
    rank = spearmanr(predicted, actual).statistic if len(actual) > 1 else float("nan")
    return MethodScore(
        method=method,
        identities=len(actual),
        mae=float(np.mean(np.abs(error))),
        rmse=float(np.sqrt(np.mean(error**2))),
        spearman=float(rank),
        predicted_total=float(predicted.sum()),
        actual_total=float(actual.sum()),
    )


def backtest(
    conn: duckdb.DuckDBPyConnection,
    rules: ValueRules | None = None,
    cutoff: datetime | None = None,
) -> tuple[ValueResult, list[MethodScore]]:
    """Fit on the history before `cutoff` (default: horizon days before the end) and score.

    It rewrites the metrics stage's tables as of the cutoff: run it on a scratch warehouse.
    """
    rules = rules or ValueRules()
    horizon = timedelta(days=rules.horizon_days)
    cutoff = cutoff or data_end(conn) - horizon
    result = update_values(conn, rules, as_of=cutoff)
    rows = conn.execute(
        sql.load("metrics/backtest_actuals"), {"as_of": cutoff, "until": cutoff + horizon}
    ).fetchnumpy()
    actual = np.asarray(rows["actual"], dtype=float)
    scores = [
        score("bg_nbd_gamma_gamma", np.asarray(rows["model"], dtype=float), actual),
        score("baseline (seed formula)", np.asarray(rows["baseline"], dtype=float), actual),
    ]
    return result, scores
