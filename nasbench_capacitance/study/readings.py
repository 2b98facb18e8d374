"""Readings of a β_eff trajectory: which one number per cell ranks best? Every reading tried is reported.

For every strategy a study recorded: the level at each snapshot, the mean over the snapshots, the
change over the first snapshot interval, the relative (log) change from initialisation to the end
and the slope over the epochs after initialisation. The sign is reported as measured.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import metrics
from ..store.records import Record


def _log_change(t: np.ndarray) -> float:
    return float(np.log(t[-1] / t[0])) if t[0] > 0 and t[-1] > 0 else np.nan


def _slope(t: np.ndarray) -> float:
    later = t[1:]
    return float(np.polyfit(np.arange(len(later)), later, 1)[0]) if len(later) > 1 else np.nan


VARIANTS: dict[str, Callable[[np.ndarray], float]] = {
    "mean": lambda t: float(np.mean(t)),
    "first_change": lambda t: float(t[1] - t[0]) if len(t) > 1 else np.nan,
    "log_change": _log_change,
    "slope": _slope,
}


def trajectories(records: list[Record], name: str) -> tuple[list[str], np.ndarray]:
    """Snapshot budgets (sorted) and one row of β_eff values per record (NaN where missing)."""
    budgets = sorted({b for r in records for b in r["metrics"].get(name, {})}, key=float)
    rows = [[r["metrics"].get(name, {}).get(b, np.nan) for b in budgets] for r in records]
    return budgets, np.array(rows, dtype=float)


def variant_scores(records: list[Record]) -> dict[str, np.ndarray]:
    """Every reading of every recorded strategy, one score per record: ``beta_weight@1``, ``beta_gradient:slope``..."""
    out = {}
    for name in metrics.capacitance_metrics({m for r in records for m in r["metrics"]}):
        budgets, values = trajectories(records, name)
        for budget, column in zip(budgets, values.T):
            out[f"{name}@{budget}"] = column
        for variant, read in VARIANTS.items():
            out[f"{name}:{variant}"] = np.array([read(row) if np.isfinite(row).all() else np.nan for row in values])
    return out
