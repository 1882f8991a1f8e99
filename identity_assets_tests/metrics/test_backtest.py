"""The backtest scores the stage's choice, every candidate and the seed's formula; on the
sample the choice beats the formula and is the candidate it names."""

from datetime import date

import numpy as np
import pytest

from identity_assets.identity.graph import resolve_identities
from identity_assets.ingest.core import ingest_days, landed_days
from identity_assets.journal.build import update_journals
from identity_assets.metrics.backtest import backtest, score
from identity_assets.metrics.selection import CANDIDATES
from identity_assets.sample import SampleConfig, write_sample


def test_scores_are_the_usual_error_measures() -> None:
    s = score("m", np.array([1.0, 2.0, 6.0]), np.array([1.0, 4.0, 3.0]))
    assert (s.identities, s.mae, s.predicted_total, s.actual_total) == (3, 5 / 3, 9.0, 8.0)
    assert s.rmse == pytest.approx(np.sqrt(13 / 3))
    assert s.spearman == pytest.approx(0.5)


def test_on_the_sample_the_model_beats_the_seeds_formula(tmp_path, conn) -> None:
    write_sample(tmp_path, SampleConfig(people=1500, seed=11))
    list(ingest_days(conn, tmp_path, landed_days(tmp_path, date(2000, 1, 1))))
    resolve_identities(conn)
    update_journals(conn)
    result, scores = backtest(conn)
    model, *candidates, baseline = scores
    assert model.method == f"chosen: {result.fit.chosen}"
    assert [c.method for c in candidates] == list(CANDIDATES)
    assert model.identities == baseline.identities > 100
    assert model.mae < baseline.mae
    assert model.spearman > baseline.spearman
    # the stage's prediction is the chosen candidate's, fitted on the same history
    (same,) = [c for c in candidates if c.method == result.fit.chosen]
    if result.fit.calibration == 1:
        assert (same.mae, same.spearman, same.predicted_total) == pytest.approx(
            (model.mae, model.spearman, model.predicted_total)
        )
