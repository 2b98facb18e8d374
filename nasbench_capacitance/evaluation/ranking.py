"""Rank statistics between a predictor's scores and ground-truth accuracies.

Kendall τ-b and Spearman/Pearson come from scipy; precision@top-k, bootstrap intervals and the
partial Kendall τ (controlling for a covariate such as parameter count) are written here. Pairs
where either value is NaN are dropped, and the number of pairs used is always reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps

from ..data.ground_truth import DEGENERATE_ACCURACY


def _finite_pairs(*values: np.ndarray) -> list[np.ndarray]:
    arrays = [np.asarray(a, dtype=float) for a in values]
    if len({a.shape for a in arrays}) != 1:
        raise ValueError(f"arrays must have the same length, got {[a.shape for a in arrays]}")
    keep = np.logical_and.reduce([np.isfinite(a) for a in arrays])
    return [a[keep] for a in arrays]


def kendall_tau(scores: np.ndarray, truth: np.ndarray) -> float:
    """Kendall τ-b (ties handled); NaN with fewer than 3 pairs or a constant input."""
    x, y = _finite_pairs(scores, truth)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(sps.kendalltau(x, y).statistic)


def spearman_rho(scores: np.ndarray, truth: np.ndarray) -> float:
    x, y = _finite_pairs(scores, truth)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(sps.spearmanr(x, y).statistic)


def pearson_r(scores: np.ndarray, truth: np.ndarray) -> float:
    x, y = _finite_pairs(scores, truth)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(sps.pearsonr(x, y).statistic)


def precision_at_top(scores: np.ndarray, truth: np.ndarray, fraction: float = 0.1) -> float:
    """Share of the top ``fraction`` by score that is also in the top ``fraction`` by truth (k = ceil(fraction n))."""
    x, y = _finite_pairs(scores, truth)
    if len(x) == 0:
        return math.nan
    k = max(1, math.ceil(fraction * len(x)))
    top_by_score = set(np.argsort(-x, kind="stable")[:k])
    top_by_truth = set(np.argsort(-y, kind="stable")[:k])
    return len(top_by_score & top_by_truth) / k


def partial_kendall_tau(scores: np.ndarray, truth: np.ndarray, control: np.ndarray) -> float:
    """Kendall's partial τ of scores and truth with ``control`` (e.g. parameter count) held fixed.

    τ_xy·z = (τ_xy − τ_xz τ_yz) / sqrt((1 − τ_xz²)(1 − τ_yz²)). A score that only counts parameters
    drops to about 0.
    """
    x, y, z = _finite_pairs(scores, truth, control)
    t_xy, t_xz, t_yz = kendall_tau(x, y), kendall_tau(x, z), kendall_tau(y, z)
    if math.isnan(t_xy + t_xz + t_yz) or max(abs(t_xz), abs(t_yz)) > 1 - 1e-9:
        return math.nan  # a score (or truth) that is a monotone function of the control has no partial τ
    denominator = math.sqrt((1 - t_xz**2) * (1 - t_yz**2))
    return (t_xy - t_xz * t_yz) / denominator


PAIRWISE_LIMIT = 120  # above this many points, τ-b per resample comes from scipy's O(n log n) algorithm (faster)


def kendall_tau_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall τ-b of every row pair of (R, n) arrays at once (NaN where a row is constant).

    τ-b = Σ sign(Δx) sign(Δy) / sqrt(Σ sign(Δx)² Σ sign(Δy)²) over all pairs, which counts ties in x,
    in y and in both exactly as scipy does. Pairs where either row holds NaN are left out, so rows may
    cover different subsets of the points. Rows are processed in chunks of about 4M pairs; beyond
    :data:`PAIRWISE_LIMIT` points each row goes to scipy instead, whose O(n log n) is then faster.
    """
    x, y = np.atleast_2d(x), np.atleast_2d(y)
    rows, n = x.shape
    if n > PAIRWISE_LIMIT:
        return np.array([kendall_tau(a, b) for a, b in zip(x, y)])
    out = np.empty(rows)
    chunk = max(1, 4_000_000 // max(1, n * n))
    for start in range(0, rows, chunk):
        sx = np.sign(x[start : start + chunk, :, None] - x[start : start + chunk, None, :])
        sy = np.sign(y[start : start + chunk, :, None] - y[start : start + chunk, None, :])
        both = np.isfinite(sx) & np.isfinite(sy)
        sx, sy = np.where(both, sx, 0.0), np.where(both, sy, 0.0)
        numerator = (sx * sy).sum((1, 2))
        denominator = np.sqrt((sx * sx).sum((1, 2)) * (sy * sy).sum((1, 2)))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + chunk] = np.where(denominator > 0, numerator / denominator, np.nan)
    return out


def spearman_rho_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman ρ of every row pair of (R, n) arrays (average ranks for ties; NaN where a row is constant)."""
    rx = sps.rankdata(np.atleast_2d(x), axis=1)
    ry = sps.rankdata(np.atleast_2d(y), axis=1)
    rx -= rx.mean(1, keepdims=True)
    ry -= ry.mean(1, keepdims=True)
    denominator = np.sqrt((rx * rx).sum(1) * (ry * ry).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (rx * ry).sum(1) / denominator, np.nan)


def bootstrap_interval(
    statistic_rows: Callable[[np.ndarray, np.ndarray], np.ndarray],
    scores: np.ndarray,
    truth: np.ndarray,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of a batched statistic (e.g. :func:`kendall_tau_rows`) over resampled pairs."""
    x, y = _finite_pairs(scores, truth)
    if len(x) < 3 or resamples < 1:
        return math.nan, math.nan
    draws = np.random.default_rng(seed).integers(0, len(x), size=(resamples, len(x)))
    return percentile_interval(statistic_rows(x[draws], y[draws]), level)


def resampled_taus(
    scores: dict[str, np.ndarray], truth: np.ndarray, resamples: int = 200, seed: int = 0
) -> dict[str, np.ndarray]:
    """Kendall τ of every score on the same bootstrap resamples of the cells (one value per resample).

    Resampling the cells once for all scores makes differences between them paired: the interval of
    τ(a) − τ(b) over the resamples is the paired bootstrap interval of Δτ. Cells without a ground truth
    are left out; a score's NaN pairs are left out of its τ.
    """
    keep = np.isfinite(truth)
    draws = np.random.default_rng(seed).integers(0, int(keep.sum()), size=(resamples, int(keep.sum())))
    y = np.asarray(truth, dtype=float)[keep]
    return {name: kendall_tau_rows(np.asarray(s, dtype=float)[keep][draws], y[draws]) for name, s in scores.items()}


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` interval of the finite values (NaN, NaN when none is finite)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class Correlation:
    n: int
    kendall_tau: float
    kendall_low: float
    kendall_high: float
    spearman_rho: float
    spearman_low: float
    spearman_high: float
    pearson_r: float
    precision_top10: float
    kendall_tau_given_params: float

    def as_dict(self) -> dict:
        return asdict(self)


def correlate(
    scores: np.ndarray, truth: np.ndarray, params: np.ndarray | None = None, resamples: int = 1000, seed: int = 0
) -> Correlation:
    """Every rank statistic of one predictor against ground truth, with 95% bootstrap intervals."""
    x, y = _finite_pairs(scores, truth)
    k_low, k_high = bootstrap_interval(kendall_tau_rows, x, y, resamples, seed=seed)
    s_low, s_high = bootstrap_interval(spearman_rho_rows, x, y, resamples, seed=seed)
    partial = partial_kendall_tau(scores, truth, params) if params is not None else math.nan
    return Correlation(
        len(x),
        kendall_tau(x, y),
        k_low,
        k_high,
        spearman_rho(x, y),
        s_low,
        s_high,
        pearson_r(x, y),
        precision_at_top(x, y, 0.1),
        partial,
    )


@dataclass(frozen=True)
class SearchQuality:
    """What a search that trusts a metric gets: the true accuracy of its top cells, and what it finds.

    Ties in the score are broken at random in expectation: a top-k that cuts through a group of tied
    cells takes the group's mean accuracy for the places it fills (a parameter count ties many cells).
    """

    top1: float  # accuracy of the best cell by score
    top10: float  # mean accuracy of the 10 best
    top100: float
    recall_top1pct: float  # share of the true top 1% found in the metric's top 1%
    recall_top5pct: float
    rank_of_best: float  # the rank (1 = first) the metric gives the truly best cell, ties averaged

    def as_dict(self) -> dict:
        return asdict(self)


def expected_top_k(scores: np.ndarray, values: np.ndarray, k: int) -> float:
    """Mean of ``values`` over the ``k`` highest ``scores``, ties at the cut broken at random (in expectation)."""
    order = np.argsort(-scores, kind="stable")
    s, v = scores[order], values[order]
    k = min(k, len(s))
    if k == 0:
        return math.nan
    cut = s[k - 1]
    above = s > cut
    tied = s == cut
    taken_from_tie = k - int(above.sum())
    return float((v[above].sum() + taken_from_tie * v[tied].mean()) / k)


def search_quality(scores: np.ndarray, truth: np.ndarray) -> SearchQuality:
    """:class:`SearchQuality` of ``scores`` against ``truth`` over the cells where both are finite."""
    x, y = _finite_pairs(scores, truth)
    if len(x) == 0:
        return SearchQuality(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)
    tops = [expected_top_k(x, y, k) for k in (1, 10, 100)]
    recalls = []
    for fraction in (0.01, 0.05):
        k = max(1, math.ceil(fraction * len(x)))
        in_true_top = np.zeros(len(x))
        in_true_top[np.argsort(-y, kind="stable")[:k]] = 1.0
        recalls.append(expected_top_k(x, in_true_top, k))  # both sets hold k cells: recall = precision
    best = int(np.argmax(y))
    rank = 1 + float((x > x[best]).sum()) + float((x == x[best]).sum() - 1) / 2
    return SearchQuality(tops[0], tops[1], tops[2], recalls[0], recalls[1], rank)


def non_degenerate(truth: np.ndarray, threshold: float = DEGENERATE_ACCURACY) -> np.ndarray:
    """Mask of architectures above chance level (ground truth > 10.5% by default)."""
    return np.asarray(truth, dtype=float) > threshold
