"""Learning-curve predictors: TSE variants, LCE, and the calibrated LcSVR and β_eff ridge."""

import math

import numpy as np
import pytest

from nasbench_capacitance import metrics
from nasbench_capacitance.evaluation import ranking
from nasbench_capacitance.metrics import calibrated, lce
from nasbench_capacitance.nb201 import space
from nasbench_capacitance.study import report
from nasbench_capacitance.training import TrainResult

ARCH = space.arch_from_index(0)


def run(losses, accs=None):
    accs = accs or [10.0 * (t + 1) for t in range(len(losses))]
    return TrainResult("ok", None, len(losses), train_loss=losses, valid_loss=losses, valid_acc=accs)


def test_published_tse_ema_variants_keep_their_own_definitions():
    s = metrics.score(["tse_ema_ru", "sotl_ema_naslib", "tse_ema"], run([2.0, 1.0, 0.5]), ARCH)
    ru = 0.1 * (0.1 * 2.0 + 0.9 * 1.0) + 0.9 * 0.5  # the final EMA value, weight 0.9 on the new epoch
    assert s["tse_ema_ru"]["3"] == pytest.approx(-ru)
    e2 = 0.01 * 2.0 + 0.99 * 1.0
    assert s["sotl_ema_naslib"]["3"] == pytest.approx(-(2.0 + e2 + 0.01 * e2 + 0.99 * 0.5))  # the sum of EMAs
    assert s["tse_ema"]["1"] == -2.0 and s["tse_ema_ru"]["1"] == -2.0


def test_lce_extrapolates_a_saturating_curve_to_its_asymptote():
    epochs = np.arange(1, 13)
    truth = lce._mmf(epochs.astype(float), 0.9, 0.2, 0.5, 1.5)
    at_horizon = lce._mmf(np.array([200.0]), 0.9, 0.2, 0.5, 1.5)[0]
    mmf = next(f for f in lce.FAMILIES if f.name == "mmf")
    assert lce.fit_family(mmf, epochs.astype(float), truth) == pytest.approx(at_horizon, abs=1e-3)
    prediction = lce.extrapolate(list(100 * truth))  # the ensemble: log-log-linear keeps growing, so it is higher
    assert 100 * truth[-1] < prediction <= 100.0 and prediction == pytest.approx(100 * at_horizon, abs=5.0)
    s = metrics.score(["lce"], run([2.0, 1.5, 1.2], [30.0, 40.0, 45.0]), ARCH)["lce"]
    assert list(s) == ["2", "3"] and all(45.0 <= v <= 100.0 for v in s.values())


def test_lce_falls_back_to_the_last_value_when_every_family_is_rejected(monkeypatch):
    monkeypatch.setattr(lce, "fit_family", lambda *a: None)
    assert lce.extrapolate([30.0, 41.0]) == 41.0


@pytest.fixture(autouse=True)
def fewer_svr_draws(monkeypatch):
    monkeypatch.setattr(calibrated, "LCSVR_DRAWS", 100)  # the reference's 1000 cost seconds; the code path is the same


def synthetic_records(n=40, seed=0):
    """Records whose curves and β_eff carry the final accuracy plus noise."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(60, 94, n)
    records = []
    for i, t in enumerate(truth):
        acc = [t * f + rng.normal(0, 2) for f in (0.4, 0.5, 0.55)]
        beta = [0.05 + 0.001 * t + rng.normal(0, 0.003) for _ in range(4)]
        records.append(
            {
                "index": i,
                "status": "ok",
                "metrics": {
                    "val_acc": {str(e + 1): a for e, a in enumerate(acc)},
                    "beta_weight": {str(e): b for e, b in enumerate(beta)},
                    "params": {"0": rng.uniform(0.1, 1.5)},
                },
            }
        )
    return records, truth


def test_calibrated_predictors_are_scored_only_outside_the_calibration_set():
    records, truth = synthetic_records()
    held = calibrated.held_out_scores(records, truth, fraction=0.3, seed=0)
    assert {("lcsvr", "3"), ("beta_ridge", "3"), ("beta_ridge", "0")} <= set(held)
    for (name, budget), (scores, size) in held.items():
        assert size == 12 and np.isnan(scores).sum() == 12, (name, budget)
    scores, _ = held[("beta_ridge", "3")]
    assert ranking.kendall_tau(scores, truth) > 0.5
    scores, _ = held[("lcsvr", "3")]
    assert ranking.kendall_tau(scores, truth) > 0.3
    # the split is seeded, and a sample too small to split fits nothing
    again = calibrated.held_out_scores(records, truth, fraction=0.3, seed=0)
    np.testing.assert_array_equal(again[("lcsvr", "3")][0], held[("lcsvr", "3")][0])
    assert calibrated.held_out_scores(records[:8], truth[:8], fraction=0.3) == {}


def test_fitted_predictor_serves_a_search_and_refuses_unknown_names():
    records, truth = synthetic_records()
    fitted = calibrated.fit("beta_ridge", records[:20], truth[:20], budget="2")
    assert fitted.calibration_size == 20 and fitted.predict(records[20:]).shape == (20,)
    with pytest.raises(ValueError, match="not a calibrated predictor"):
        calibrated.fit("val_acc", records, truth, budget="2")
    with pytest.raises(ValueError, match="calibration set"):
        metrics.score(["lcsvr"], None, ARCH)


def test_report_rows_state_the_calibration_size():
    records, truth = synthetic_records()
    rows = report.correlation_rows(records, truth, resamples=50, degenerate_below=10.5, calibration=0.3)
    lcsvr = [r for r in rows if r["metric"] == "lcsvr" and r["subset"] == "all"]
    assert lcsvr and all(r["calibration"] == 12 and r["n"] == 28 and r["kind"] == "calibrated" for r in lcsvr)
    plain = next(r for r in rows if r["metric"] == "val_acc")
    assert plain["calibration"] == 0 and plain["n"] == 40
    table = report.format_table(rows, "test target", {"ok": 40})
    assert "lcsvr: fitted on 12 calibration architectures" in table
    assert max(len(line) for line in table.splitlines()) <= 100
    assert not any(math.isnan(r["kendall_tau"]) for r in lcsvr)
