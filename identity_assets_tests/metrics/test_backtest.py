"""The backtest scores the stage's choice, every candidate and the seed's formula; on the
sample the choice beats the formula and is the candidate it names."""

from datetime import date, datetime

import numpy as np
import pytest

from identity_assets.identity.graph import resolve_identities
from identity_assets.ingest.core import ingest_days, landed_days
from identity_assets.journal.build import update_journals
from identity_assets.metrics import backtest as backtest_module
from identity_assets.metrics import models
from identity_assets.metrics.backtest import backtest, rank_ceilings, score
from identity_assets.metrics.rules import ValueRules
from identity_assets.metrics.selection import CANDIDATES, Candidates
from identity_assets.metrics.value import update_values
from identity_assets.sample import SampleConfig, write_sample
from identity_assets_tests.builders import connect, purchase_history

pytestmark = pytest.mark.heavy


def test_scores_are_the_usual_error_measures() -> None:
    s = score("m", np.array([1.0, 2.0, 6.0]), np.array([1.0, 4.0, 3.0]))
    assert (s.identities, s.mae, s.predicted_total, s.actual_total) == (3, 5 / 3, 9.0, 8.0)
    assert s.rmse == pytest.approx(np.sqrt(13 / 3))
    assert s.spearman == pytest.approx(0.5)


def test_on_the_sample_the_model_beats_the_seeds_formula(tmp_path, conn) -> None:
    write_sample(tmp_path, SampleConfig(people=700, seed=11))
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


@pytest.fixture(scope="module")
def fitted_at_cut() -> tuple[Candidates, datetime]:
    """Candidates on a purchase history, fitted once for the tests below (the fits are the
    slow part); the stage itself refuses to predict so it only brings in the purchases."""
    conn = connect()
    purchase_history(conn)
    update_values(conn, ValueRules(min_history_multiple=100))
    candidates, cut = Candidates(conn, ValueRules()), datetime(2026, 1, 1)
    for name in ("bg_nbd_gamma_gamma", "pareto_nbd_gamma_gamma"):
        candidates.predict(name, cut)
    yield candidates, cut
    conn.close()


def test_rank_ceilings_say_how_high_spearman_can_go(fitted_at_cut, monkeypatch) -> None:
    candidates, cut = fitted_at_cut
    fits = []
    monkeypatch.setattr(models, "fit_pareto_nbd", lambda *a, **k: fits.append(a))
    ceilings = rank_ceilings(candidates, cut)
    # ties at zero reward a ranking that ties the non-buyers too
    assert ceilings.who_buys > ceilings.strict
    assert ceilings.repeat_days != ceilings.repeat_days_strict
    assert set(ceilings.model_world) == {"bg_nbd_gamma_gamma", "pareto_nbd_gamma_gamma"}
    assert all(0 < v < 1 for v in ceilings.model_world.values())
    # the ceilings read the candidates' fits at the cut: no model is fitted again
    assert fits == []
    # the same seed, the same draws
    assert rank_ceilings(candidates, cut) == ceilings


@pytest.mark.parametrize("name", ["bg_nbd_gamma_gamma", "pareto_nbd_gamma_gamma"])
def test_spend_drawn_from_a_count_model_averages_to_its_prediction(fitted_at_cut, name) -> None:
    candidates, cut = fitted_at_cut
    prediction, features = candidates.predict(name, cut), candidates.features(cut)
    drawn = backtest_module._draw_spend(prediction, features, 90, 300, np.random.default_rng(1))
    assert drawn.sum(axis=1).mean() == pytest.approx(prediction.value.sum(), rel=0.03)
