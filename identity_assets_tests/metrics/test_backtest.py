"""The backtest scores both methods, and on the sample the model beats the seed's formula."""

from datetime import date

import numpy as np
import pytest

from identity_assets.identity.graph import resolve_identities
from identity_assets.ingest.core import ingest_days, landed_days
from identity_assets.journal.build import update_journals
from identity_assets.metrics.backtest import backtest, score
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
    result, (model, baseline) = backtest(conn)
    assert result.fit.bg_nbd is not None
    assert model.identities == baseline.identities > 100
    assert model.mae < baseline.mae
    assert model.spearman > baseline.spearman
