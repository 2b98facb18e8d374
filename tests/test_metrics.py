import math

import pytest
import torch

from nasbench_capacitance import metrics
from nasbench_capacitance.capacitance.probe import CapacitanceProbe, ProbeRecorder
from nasbench_capacitance.nb201 import space
from nasbench_capacitance.training import TrainResult

ARCH = space.arch_from_index(0)


def result_with_curves():
    r = TrainResult(
        "ok",
        None,
        3,
        train_loss=[2.0, 1.5, 1.0],
        train_acc=[20, 40, 60],
        valid_loss=[1.8, 1.4, 1.2],
        valid_acc=[30.0, 45.0, 55.0],
    )
    torch.manual_seed(0)
    rec = ProbeRecorder(CapacitanceProbe(4, 3, (5, 5)), ("weight", "gradient"))
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    for e in (0, 0.5, 1, 2, 3):
        rec.snapshot(e, int(e * 10), x, y)
    r.probe = rec.result()
    return r


def test_curve_metrics_follow_the_definitions_and_signs():
    r = result_with_curves()
    s = metrics.score(["val_acc", "val_loss", "tse", "tse_e", "tse_ema", "sovl"], r, ARCH)
    assert s["val_acc"] == {"1": 30.0, "2": 45.0, "3": 55.0}
    assert s["val_loss"]["2"] == -1.4
    assert s["tse"] == {"1": -2.0, "2": -3.5, "3": -4.5}
    assert s["tse_e"]["3"] == -1.0
    g = metrics.curves.TSE_EMA_GAMMA
    assert s["tse_ema"]["3"] == pytest.approx(-(g**2 * 2.0 + g * 1.5 + 1.0))
    assert s["sovl"]["3"] == pytest.approx(-4.4)


def test_beta_metrics_at_every_snapshot():
    r = result_with_curves()
    s = metrics.score(["beta_weight", "beta_gradient"], r, ARCH)
    assert list(s["beta_weight"]) == ["0", "0.5", "1", "2", "3"]
    assert all(math.isfinite(v) and v > 0 for v in s["beta_gradient"].values())
    with pytest.raises(ValueError, match="add 'hessian'"):
        metrics.score(["beta_hessian"], r, ARCH)


def test_unknown_metric_lists_the_valid_ones():
    with pytest.raises(ValueError, match="available: .*beta_weight"):
        metrics.get("beta")
