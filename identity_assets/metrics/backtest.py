"""Backtest: predict a holdout from the history before it, and score each method.

The history is cut `horizon` days before its end; metrics and the model see only the part
before the cut (the stage chooses its model by its own backtest inside that part), and each
method's predicted value is compared with what every identity that had bought by then
actually spent after it: mean absolute and root mean squared error, Spearman rank
correlation, and the totals. The methods: what the stage wrote (`chosen: <model>`), every
candidate fitted on the same history, and the seed's formula.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import duckdb
import numpy as np

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
