import math

import numpy as np
import pytest

from nasbench_capacitance.data.ground_truth import GroundTruth
from nasbench_capacitance.evaluation import ranking


def test_kendall_tau_b_by_hand_and_nan_pairs_dropped():
    # 4 items, y = 1, 2, 4, 3: only the pair (3rd, 4th) is discordant -> (5 - 1) / 6
    x = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    y = np.array([1.0, 2.0, 4.0, 3.0, 5.0])
    assert ranking.kendall_tau(x, y) == pytest.approx(4 / 6)
    y[3] = 0.0  # now pairs (1st, 4th), (2nd, 4th), (3rd, 4th) are discordant -> 0
    assert ranking.kendall_tau(x, y) == pytest.approx(0.0)
    assert math.isnan(ranking.kendall_tau([1, 1, 1], [1, 2, 3]))


def test_precision_at_top():
    truth = np.arange(20.0)
    assert ranking.precision_at_top(truth, truth, 0.1) == 1.0
    assert ranking.precision_at_top(-truth, truth, 0.1) == 0.0
    scores = truth.copy()
    scores[19] = -1  # the best architecture scored worst: one of the top 2 is missed
    assert ranking.precision_at_top(scores, truth, 0.1) == 0.5


def test_partial_tau_removes_a_pure_parameter_counter(nb201_table):
    gt = GroundTruth.from_table(nb201_table, target="c10valid_xvalid_200_v10")
    idx = np.random.default_rng(0).choice(15625, 300, replace=False)
    acc, params = gt.accuracies(idx), gt.column("params_mb_c10", idx)
    # Parameter count alone ranks NB201 well (the README of the table quotes τ 0.534 over all cells)...
    assert 0.4 < ranking.kendall_tau(params, acc) < 0.7
    # ...but says nothing once parameter count is controlled for.
    assert math.isnan(ranking.partial_kendall_tau(params, acc, params))  # τ_xz = 1: undefined, not a score
    noisy = params + np.random.default_rng(1).normal(0, 0.05, len(params))
    assert abs(ranking.partial_kendall_tau(noisy, acc, params)) < 0.15


def test_correlate_intervals_bracket_the_estimate():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=80)
    scores = truth + rng.normal(scale=1.0, size=80)
    c = ranking.correlate(scores, truth, resamples=300)
    assert c.n == 80 and c.kendall_low < c.kendall_tau < c.kendall_high
    assert c.spearman_low < c.spearman_rho < c.spearman_high
    assert 0.2 < c.kendall_tau < 0.7
    assert ranking.non_degenerate(np.array([10.0, 10.5, 10.6])).tolist() == [False, False, True]


def test_batched_statistics_equal_scipy_with_ties():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 6, size=(50, 30)).astype(float)  # many ties, as in bootstrap resamples
    y = x + rng.integers(0, 4, size=(50, 30))
    x[7] = 1.0  # a constant row has no τ
    tau = ranking.kendall_tau_rows(x, y)
    rho = ranking.spearman_rho_rows(x, y)
    for r in range(50):
        assert tau[r] == pytest.approx(ranking.kendall_tau(x[r], y[r]), abs=1e-12, nan_ok=True)
        assert rho[r] == pytest.approx(ranking.spearman_rho(x[r], y[r]), abs=1e-12, nan_ok=True)
    assert math.isnan(tau[7]) and math.isnan(rho[7])


def test_row_kendall_leaves_out_pairs_with_a_nan_as_scipy_on_the_finite_subset():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(4, 30)), rng.integers(0, 6, size=(4, 30)).astype(float)  # ties in y
    x[0, :7] = np.nan
    x[1, ::3] = np.nan
    expected = [ranking.kendall_tau(a, b) for a, b in zip(x, y)]
    np.testing.assert_allclose(ranking.kendall_tau_rows(x, y), expected, rtol=1e-12)
