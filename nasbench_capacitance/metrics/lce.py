"""LCE: extrapolate the partial validation-accuracy curve to epoch 200 with parametric curve families.

Domhan et al. (2015), as NASLib runs it on NB201 (``naslib/predictors/lce``, from
pylearningcurvepredictor): the curve is acc/100 against the epoch number, four families
(log-log-linear, log-power, MMF, Hill-3) are fitted by Gaussian maximum likelihood (least squares,
scipy), and the equal-weight ensemble's value at epoch 200 is the prediction (×100). A family's fit
is rejected when it is not finite, leaves [0, 1] at the horizon or decreases after the last observed
epoch, as the reference rejects such samples.

Deliberate differences: no Metropolis-Hastings refinement around the fit (the reference's 300 MH
steps move an equal-weight ensemble little); when every family is rejected the prediction is the
last observed accuracy (the reference draws 85 + U(0, 1), which would inject noise into rankings).
Our curves come from a cosine schedule compressed into the training budget, not from the first
epochs of a 200-epoch run, so the extrapolation is a model of the curve's shape only.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from . import Inputs, Values, epoch_key, metric

HORIZON = 200  # NB201's training length in epochs


@dataclass(frozen=True)
class Family:
    name: str
    f: Callable[..., np.ndarray]
    initial: Callable[[np.ndarray, np.ndarray], list[float]]
    lower: tuple[float, ...]
    upper: tuple[float, ...]


def _loglog_linear(x, a, b):
    return np.log(a * np.log(x) + b)


def _log_power(x, a, b, c):
    return a / (1.0 + (x / np.exp(b)) ** c)


def _mmf(x, alpha, beta, kappa, delta):
    return alpha - (alpha - beta) / (1.0 + (kappa * x) ** delta)


def _hill3(x, ymax, eta, kappa):
    return ymax * x**eta / (kappa**eta + x**eta)


def _asymptote_guess(y: np.ndarray) -> float:
    return float(min(1.0, y.max() + 0.1))


FAMILIES = (
    Family(
        "loglog_linear",
        _loglog_linear,
        lambda x, y: [max(1e-3, float(np.exp(y[-1]) - np.exp(y[0])) / max(np.log(x[-1]), 1e-3)), float(np.exp(y[0]))],
        (0.0, 1e-6),
        (100.0, 100.0),
    ),
    Family(
        "log_power", _log_power, lambda x, y: [_asymptote_guess(y), 0.0, -1.0], (0.0, -20.0, -20.0), (1.0, 20.0, 0.0)
    ),
    Family(
        "mmf",
        _mmf,
        lambda x, y: [_asymptote_guess(y), float(max(0.0, y[0] - 0.1)), 1.0, 1.0],
        (0.0, 0.0, 1e-6, 1e-6),
        (1.0, 1.0, 100.0, 20.0),
    ),
    Family("hill3", _hill3, lambda x, y: [_asymptote_guess(y), 1.0, 1.0], (0.0, 1e-6, 1e-6), (1.0, 20.0, 1000.0)),
)


def fit_family(family: Family, x: np.ndarray, y: np.ndarray) -> float | None:
    """The family's least-squares value at :data:`HORIZON`, or None if the fit is rejected."""
    start = np.clip(family.initial(x, y), np.array(family.lower) + 1e-9, np.array(family.upper) - 1e-9)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            fit = optimize.least_squares(lambda p: family.f(x, *p) - y, start, bounds=(family.lower, family.upper))
        except (ValueError, FloatingPointError):
            return None
        at_last, at_horizon = family.f(np.array([x[-1], HORIZON], dtype=float), *fit.x)
    if not (
        np.isfinite(fit.cost) and np.isfinite(at_horizon) and 0.0 <= at_horizon <= 1.0 and at_horizon >= at_last - 1e-9
    ):
        return None
    return float(at_horizon)


def extrapolate(accuracies: list[float]) -> float:
    """Predicted accuracy (percent) at epoch 200 from epochs 1..T (T >= 2)."""
    y = np.asarray(accuracies, dtype=float) / 100.0
    x = np.arange(1, len(y) + 1, dtype=float)
    predictions = [p for p in (fit_family(fam, x, y) for fam in FAMILIES) if p is not None]
    return 100.0 * float(np.mean(predictions)) if predictions else float(accuracies[-1])


@metric(
    "lce",
    kind="curve",
    description=f"learning-curve extrapolation of validation accuracy to epoch {HORIZON} (budgets >= 2)",
    reference="Domhan et al. 2015; NASLib predictors/lce",
)
def _lce(inputs: Inputs) -> Values:
    curve = inputs.training().valid_acc
    return {epoch_key(e): extrapolate(curve[:e]) for e in range(2, len(curve) + 1)}
