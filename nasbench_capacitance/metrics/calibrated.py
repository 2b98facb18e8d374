"""Predictors fitted on a calibration set of architectures with known final accuracy.

They read the stored records (``record["metrics"]``, so ``nbcap report`` can refit them from the
results store alone) and the ground truth of the calibration architectures, and predict the final
accuracy of the others. The evaluation scores them only on architectures outside the calibration
set and states its size.

- ``lcsvr`` (Baker et al. 2017; NASLib ``predictors/lcsvr.py`` with its runner's settings): ν-SVR,
  RBF kernel, on the mean and standard deviation of the partial validation-accuracy curve and of its
  first and second differences (those a short curve has); C, γ ~ log-uniform(1e-5, 10), ν ~ U(0, 1),
  1000 draws scored by 3-fold cross-validated R², as the reference does.
- ``beta_ridge`` (the paper's predictor, Jiang et al. 2024): Bayesian ridge regression from the
  β_eff trajectory (every recorded strategy, every snapshot up to the budget, standardised) to the
  final accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..store.records import Record
from . import REGISTRY, capacitance_metrics, get, metric

MIN_CALIBRATION = 6  # fewer than this: not fitted (3-fold cross-validation needs 2 per fold for R²)
MIN_HELD_OUT = 3
LCSVR_DRAWS = 1000
LCSVR_FOLDS = 3


class Regressor(Protocol):
    def fit(self, x: np.ndarray, y: np.ndarray) -> Regressor: ...
    def predict(self, x: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Calibrated:
    """What a calibrated predictor is fitted on, and how (registered with ``metrics.metric``)."""

    features: Callable[[Record, str], np.ndarray | None]  # (record, epoch budget) -> feature vector, None if missing
    budgets: Callable[[list[Record]], list[str]]  # the epoch budgets the records support
    make_model: Callable[[np.ndarray, np.ndarray, int], Regressor]  # (x, y, seed) -> fitted model
    reads: tuple[str, ...] | None = None  # the training-free metrics the features read (None: a training run's)


def _series(record: Record, metric: str, budget: str) -> list[float]:
    """The metric's values at every recorded epoch up to ``budget``, in epoch order."""
    values = record["metrics"].get(metric, {})
    return [values[e] for e in sorted(values, key=float) if float(e) <= float(budget)]


def _epochs_of(records: list[Record], metric: str, minimum: float = 1) -> list[str]:
    epochs = {e for r in records for e in r["metrics"].get(metric, {})}
    return sorted((e for e in epochs if float(e) >= minimum and float(e).is_integer()), key=float)


# ----------------------------------------------------------------------------- LcSVR


def curve_features(curve: list[float]) -> np.ndarray | None:
    """[mean, std] of the curve, of its first and of its second differences (those that exist)."""
    vc = np.asarray(curve, dtype=float)
    if len(vc) == 0 or not np.isfinite(vc).all():
        return None
    parts = [vc, np.diff(vc, 1), np.diff(vc, 2)]
    return np.array([f(p) for p in parts if len(p) for f in (np.mean, np.std)])


def _lcsvr_features(record: Record, budget: str) -> np.ndarray | None:
    return curve_features(_series(record, "val_acc", budget))


def _curve_budgets(records: list[Record]) -> list[str]:
    return _epochs_of(records, "val_acc")


@metric(
    "lcsvr",
    kind="calibrated",
    description="ν-SVR on partial validation-curve features, fitted on calibration architectures",
    reference="Baker et al. 2017; NASLib predictors/lcsvr.py",
    features=_lcsvr_features,
    budgets=_curve_budgets,
)
def _fit_lcsvr(x: np.ndarray, y: np.ndarray, seed: int) -> Regressor:
    from sklearn.metrics import r2_score
    from sklearn.model_selection import KFold
    from sklearn.svm import NuSVR

    rng = np.random.default_rng(seed)
    draws = np.column_stack(
        [10 ** rng.uniform(-5, 1, LCSVR_DRAWS), rng.uniform(0, 1, LCSVR_DRAWS), 10 ** rng.uniform(-5, 1, LCSVR_DRAWS)]
    )
    folds = list(KFold(n_splits=LCSVR_FOLDS).split(x))
    best, best_score = draws[0], -np.inf
    for c, nu, gamma in draws:
        scores = []
        for train, test in folds:
            model = NuSVR(C=c, nu=max(nu, 1e-3), gamma=gamma, kernel="rbf").fit(x[train], y[train])
            scores.append(r2_score(y[test], model.predict(x[test])))
        if np.mean(scores) > best_score:
            best, best_score = (c, nu, gamma), float(np.mean(scores))
    c, nu, gamma = best
    return NuSVR(C=c, nu=max(nu, 1e-3), gamma=gamma, kernel="rbf").fit(x, y)


# ----------------------------------------------------------------------------- β_eff ridge


def beta_features(record: Record, budget: str) -> np.ndarray | None:
    names = capacitance_metrics(record["metrics"])
    values = [v for m in names for v in _series(record, m, budget)]
    if not values or not np.isfinite(values).all():
        return None
    return np.asarray(values, dtype=float)


def _beta_budgets(records: list[Record]) -> list[str]:
    names = capacitance_metrics({m for r in records for m in r["metrics"]})
    return _epochs_of(records, names[0], minimum=0) if names else []


@metric(
    "beta_ridge",
    kind="calibrated",
    description="Bayesian ridge regression from the β_eff trajectory to final accuracy (the paper's predictor)",
    reference="Jiang et al., Nat. Commun. 15, 5718 (2024)",
    features=beta_features,
    budgets=_beta_budgets,
)
def _fit_ridge(x: np.ndarray, y: np.ndarray, seed: int) -> Regressor:
    from sklearn.linear_model import BayesianRidge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), BayesianRidge()).fit(x, y)


# ----------------------------------------------------------------------------- fitting and held-out scores


@dataclass(frozen=True)
class FittedPredictor:
    """A calibrated predictor fitted at one budget; ``predict`` gives NaN where features are missing."""

    name: str
    budget: str
    model: Regressor
    calibration_size: int

    def predict(self, records: list[Record]) -> np.ndarray:
        spec = _spec(self.name)
        out = np.full(len(records), np.nan)
        rows = [(n, spec.features(r, self.budget)) for n, r in enumerate(records)]
        usable = [(n, f) for n, f in rows if f is not None]
        if usable:
            out[[n for n, _ in usable]] = self.model.predict(np.vstack([f for _, f in usable]))
        return out


def _spec(name: str) -> Calibrated:
    spec = get(name).calibration
    if spec is None:
        names = ", ".join(m.name for m in REGISTRY.values() if m.calibration is not None)
        raise ValueError(f"{name!r} is not a calibrated predictor; available: {names}")
    return spec


def fit(name: str, records: list[Record], accuracies: np.ndarray, budget: str, seed: int = 0) -> FittedPredictor:
    """Fit ``name`` at ``budget`` on records with known final accuracy (NaN accuracies are skipped)."""
    spec = _spec(name)
    rows = [
        (f, a)
        for r, a in zip(records, np.asarray(accuracies, dtype=float))
        if (f := spec.features(r, budget)) is not None and np.isfinite(a)
    ]
    if len({len(f) for f, _ in rows}) > 1:
        raise ValueError(f"{name}: records hold different numbers of snapshots up to epoch {budget}")
    if len(rows) < MIN_CALIBRATION:
        raise ValueError(
            f"{name} needs at least {MIN_CALIBRATION} calibration architectures with features, got {len(rows)}"
        )
    x, y = np.vstack([f for f, _ in rows]), np.array([a for _, a in rows])
    return FittedPredictor(name, budget, spec.make_model(x, y, seed), len(rows))


def calibration_split(n: int, fraction: float, seed: int) -> np.ndarray | None:
    """Boolean mask of the calibration records (seeded), or None when either side would be too small."""
    size = int(round(fraction * n))
    if size < MIN_CALIBRATION or n - size < MIN_HELD_OUT:
        return None
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng(seed).permutation(n)[:size]] = True
    return mask


def held_out_scores(
    records: list[Record], truth: np.ndarray, fraction: float, seed: int = 0
) -> dict[tuple[str, str], tuple[np.ndarray, int]]:
    """{(name, budget): (predictions aligned with records, NaN on the calibration set; calibration size)}.

    Records without a finite ground truth never enter the calibration set. Empty when the sample is
    too small to split (see :data:`MIN_CALIBRATION`).
    """
    truth = np.asarray(truth, dtype=float)
    known = np.flatnonzero(np.isfinite(truth))
    split = calibration_split(len(known), fraction, seed)
    if split is None:
        return {}
    calibration = np.zeros(len(records), dtype=bool)
    calibration[known[split]] = True
    cal_records = [r for r, c in zip(records, calibration) if c]
    out = {}
    for name, spec in ((m.name, m.calibration) for m in REGISTRY.values() if m.calibration is not None):
        for budget in spec.budgets(records):
            try:
                fitted = fit(name, cal_records, truth[calibration], budget, seed)
            except ValueError:
                continue  # too few calibration records with these features
            scores = fitted.predict(records)
            scores[calibration] = np.nan
            out[(name, budget)] = (scores, fitted.calibration_size)
    return out
