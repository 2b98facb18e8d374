"""Does β_eff add information? The same calibrated model fitted with and without the β_eff features.

Each trained cell of a study gives three blocks of features:

- ``free``: the zero-cost proxies, parameters and FLOPs of the shipped whole-space table (no training;
  the same values whatever protocol the study trained with), on a signed log scale;
- ``curve``: the run's validation-accuracy and training-loss curves (LcSVR's summary statistics);
- ``beta``: the β_eff trajectory of every recorded strategy (each snapshot, the change over the first
  epoch, the slope over the epochs);
- ``beta_init``: each strategy's first snapshot only, taken before training (for the increment that
  asks what training adds to β_eff).

For each calibration size n and each of ``repeats`` draws, a model is fitted on n cells' final
accuracies and ranks the other cells; every feature set is scored on the same held-out cells, so the
differences are paired. The interval is a bootstrap over the study's cells: each bootstrap row
resamples them once, every draw scores the resampled cells outside its calibration set, and the
draws' τ are averaged; so it measures how much the study's sample of cells moves the answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from .. import metrics
from ..metrics.calibrated import curve_features
from ..store.records import Record
from .ranking import kendall_tau_rows, percentile_interval

BLOCKS = ("free", "curve", "beta")
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "free": ("free",),
    "free+beta": ("free", "beta"),
    "free+curve": ("free", "curve"),
    "free+curve+beta": ("free", "curve", "beta"),
    "beta": ("beta",),
}
# The increments the ablation answers: (with β, without β).
INCREMENTS = (("free+curve+beta", "free+curve"), ("free+beta", "free"))
MODELS = ("ridge", "forest")
DEFAULT_SIZES = (10, 25, 50, 100, 200)
MIN_HELD_OUT = 20  # fewer held-out cells than this: the calibration size is skipped


def signed_log(x: np.ndarray) -> np.ndarray:
    """sign(x)·log(1 + |x|): proxies such as synflow span many orders of magnitude."""
    x = np.asarray(x, dtype=float)
    return np.sign(x) * np.log1p(np.abs(x))


BETA_PROXIES = ("beta_init",)  # training-free, but β_eff: the ablation's β blocks, never the free one


def free_block(indices: Sequence[int], table: Mapping[str, np.ndarray]) -> tuple[np.ndarray, list[str]]:
    """The training-free columns of the whole-space table for ``indices`` (signed log), and their names.

    β_eff's own proxy stays out even when the table holds it: the ablation asks what β adds to the rest.
    """
    free = metrics.available("arch") + metrics.available("init")
    names = [m for m in free if m in table and m not in BETA_PROXIES]
    rows = np.asarray(indices, dtype=int)
    return np.column_stack([signed_log(table[m][rows]) for m in names]), names


def _series(record: Record, name: str) -> np.ndarray:
    values = record["metrics"].get(name, {})
    return np.array([values[e] for e in sorted(values, key=float)], dtype=float)


def curve_block(records: Sequence[Record]) -> np.ndarray:
    """Summary statistics of each run's validation-accuracy and training-loss curves (NaN if missing)."""
    parts = []
    for name in ("val_acc", "tse_e"):
        rows = [curve_features(list(_series(r, name))) for r in records]
        width = max((len(f) for f in rows if f is not None), default=0)
        parts.append(np.vstack([f if f is not None else np.full(width, np.nan) for f in rows]))
    return np.hstack(parts)


def beta_trajectory(values: np.ndarray) -> np.ndarray:
    """One strategy's β_eff trajectory: every snapshot, the change over the first epoch, the slope after it."""
    change = values[1] - values[0] if len(values) > 1 else np.nan
    later = values[1:]
    slope = np.polyfit(np.arange(len(later)), later, 1)[0] if len(later) > 1 and np.isfinite(later).all() else np.nan
    return np.concatenate([values, [change, slope]])


def _beta_names(records: Sequence[Record]) -> list[str]:
    names = metrics.capacitance_metrics({m for r in records for m in r["metrics"]})
    if not names:
        raise ValueError("the study recorded no β_eff: train with the capacitance probe (train.strategies)")
    return names


def beta_init_block(records: Sequence[Record]) -> np.ndarray:
    """Each strategy's first β_eff snapshot (before any SGD step): the part of the trajectory training
    has not touched, so ``free+beta`` against ``free+beta_init`` isolates what training adds."""
    names = _beta_names(records)
    series = [[_series(r, name) for name in names] for r in records]
    return np.array([[s[0] if len(s) else np.nan for s in row] for row in series], dtype=float)


def beta_block(records: Sequence[Record]) -> np.ndarray:
    """The β_eff trajectory features of every strategy recorded (NaN where a snapshot is missing)."""
    parts = []
    for name in _beta_names(records):
        length = max(len(_series(r, name)) for r in records)
        padded = [np.pad(s, (0, length - len(s)), constant_values=np.nan) for s in (_series(r, name) for r in records)]
        parts.append(np.vstack([beta_trajectory(s) for s in padded]))
    return np.hstack(parts)


def make_model(kind: str, seed: int):
    """A regressor that imputes missing features with the calibration median, then fits."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import BayesianRidge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    impute = SimpleImputer(strategy="median", keep_empty_features=True)
    if kind == "ridge":
        return make_pipeline(impute, StandardScaler(), BayesianRidge())
    if kind == "forest":
        return make_pipeline(impute, RandomForestRegressor(n_estimators=200, min_samples_leaf=2, random_state=seed))
    raise ValueError(f"unknown model {kind!r}; choose from {', '.join(MODELS)}")


@dataclass(frozen=True)
class AblationRow:
    """One feature set (or increment) at one calibration size, over the draws."""

    model: str
    calibration: int
    held_out: int
    draws: int
    features: str  # a feature set, or "A − B" for an increment
    tau: float  # mean over draws of τ on the held-out cells (Δτ for an increment)
    sd: float  # sd over draws
    low: float  # 95% bootstrap interval over the study's cells (paired across feature sets)
    high: float

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        """The row as one printed line: model, size, features, τ ± sd [95% interval]."""
        interval = f"[{self.low:+.3f}, {self.high:+.3f}]"
        return f"{self.model:<6} n={self.calibration:<4} {self.features:<30} {self.tau:+.3f} ± {self.sd:.3f} {interval}"


def ablate(
    blocks: Mapping[str, np.ndarray],
    accuracy: np.ndarray,
    sizes: Sequence[int] = DEFAULT_SIZES,
    models: Sequence[str] = MODELS,
    repeats: int = 20,
    resamples: int = 500,
    seed: int = 0,
    feature_sets: Mapping[str, tuple[str, ...]] = FEATURE_SETS,
    increments: Sequence[tuple[str, str]] = INCREMENTS,
) -> list[AblationRow]:
    """τ of every feature set and Δτ of every increment, per model and calibration size (see module doc).

    ``blocks`` maps each block the feature sets name (:data:`BLOCKS` by default) to an (n_cells, k)
    array; ``accuracy`` is the final accuracy. Sizes that leave fewer than :data:`MIN_HELD_OUT` cells
    outside the calibration set are skipped.
    """
    accuracy = np.asarray(accuracy, dtype=float)
    n = len(accuracy)
    features = {name: np.hstack([blocks[b] for b in parts]) for name, parts in feature_sets.items()}
    rows = []
    for kind in models:
        for size in (s for s in sizes if n - s >= MIN_HELD_OUT):
            rng = np.random.default_rng([seed, size])
            # one resample of the study's cells per bootstrap row, shared by every draw and feature set:
            # each draw scores the resampled cells outside its calibration set
            resampled = rng.integers(0, n, size=(resamples, n))
            taus: dict[str, list[float]] = {name: [] for name in feature_sets}
            boot: dict[str, list[np.ndarray]] = {name: [] for name in feature_sets}
            for _ in range(repeats):
                order = rng.permutation(n)
                calibration, held = order[:size], order[size:]
                for name, x in features.items():
                    model = make_model(kind, seed).fit(x[calibration], accuracy[calibration])
                    predicted = np.full(n, np.nan)
                    predicted[held] = model.predict(x[held])
                    taus[name].append(kendall_tau_rows(predicted[held], accuracy[held])[0])
                    boot[name].append(kendall_tau_rows(predicted[resampled], accuracy[resampled]))
            held_out = n - size
            for name in feature_sets:
                values, spread = np.array(taus[name]), np.mean(boot[name], axis=0)
                rows.append(
                    AblationRow(kind, size, held_out, repeats, name, *_summary(values), *percentile_interval(spread))
                )
            for with_beta, without in increments:
                delta = np.array(taus[with_beta]) - np.array(taus[without])
                spread = np.mean(np.array(boot[with_beta]) - np.array(boot[without]), axis=0)
                name = f"{with_beta} − {without}"
                rows.append(
                    AblationRow(kind, size, held_out, repeats, name, *_summary(delta), *percentile_interval(spread))
                )
    return rows


def _summary(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return np.nan, np.nan
    return float(finite.mean()), float(finite.std(ddof=1)) if len(finite) > 1 else np.nan
