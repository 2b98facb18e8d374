"""The few-shot predictor against N: seeded calibration draws, each scored on every cell it was not
fitted on, for every target; the ablation of each feature block on the same draws (paired).

A draw is ``N`` cells drawn uniformly from the table's cells with seed ``draw``, fitted on the target's
accuracies of those cells. Reported draws and the draws a choice is made on are disjoint seed
ranges (:data:`REPORT_DRAWS`, :data:`CHOICE_DRAWS`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from ..data.ground_truth import GroundTruth
from ..evaluation import ranking
from .space import TableFeatures, fit_table

SIZES = (10, 25, 50, 100, 200, 1000)
REPORT_DRAWS = range(0, 10)  # the draws the curve and the ablation report
CHOICE_DRAWS = range(1000, 1005)  # the draws the model is chosen on, apart from the reported ones


def draw_cells(population: np.ndarray, size: int, draw: int) -> np.ndarray:
    """``size`` cells of ``population``, uniformly without replacement, fixed by ``draw``."""
    return np.sort(np.random.default_rng(draw).choice(population, size=size, replace=False))


def held_out_row(features: TableFeatures, truth: GroundTruth, size: int, draw: int, model: str) -> dict:
    """One draw's fit, scored on the held-out cells: τ, ρ and what a search trusting it gets."""
    cells = draw_cells(features.cells, size, draw)
    prediction = fit_table(features, cells, truth.accuracies(cells), model=model, seed=draw, spread=False)
    held = prediction.held_out()
    scores, target = prediction.predicted[held], truth.accuracies(features.cells[held])
    quality = ranking.search_quality(scores, target)
    return {
        "target": truth.target.column,
        "model": model,
        "blocks": "+".join(features.blocks),
        "n": size,
        "draw": draw,
        "held_out": int(held.sum()),
        "kendall_tau": ranking.kendall_tau(scores, target),
        "spearman_rho": ranking.spearman_rho(scores, target),
        "top1": quality.top1,
        "top10": quality.top10,
        "recall_top1pct": quality.recall_top1pct,
    }


def curve_rows(
    features: TableFeatures,
    truths: Sequence[GroundTruth],
    model: str,
    sizes: Sequence[int] = SIZES,
    draws: Sequence[int] = REPORT_DRAWS,
) -> list[dict]:
    """One row per target × N × draw."""
    return [held_out_row(features, t, n, d, model) for t in truths for n in sizes for d in draws]


def summarise(rows: list[dict], keys: Sequence[str] = ("target", "model", "blocks", "n")) -> list[dict]:
    """Mean ± sd over draws of every statistic, per ``keys``."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    out = []
    for key, members in groups.items():
        row = dict(zip(keys, key)) | {"draws": len(members)}
        for stat in ("kendall_tau", "spearman_rho", "top1", "top10", "recall_top1pct"):
            values = np.array([m[stat] for m in members], dtype=float)
            row[stat] = float(values.mean())
            row[f"{stat}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        out.append(row)
    return out


def paired_rows(full: list[dict], ablated: list[dict], left_out: str) -> list[dict]:
    """Δτ (without the block minus with it) per target × N over the same draws, with a 95% t interval."""
    by_key = {(r["target"], r["n"], r["draw"]): r["kendall_tau"] for r in full}
    groups: dict[tuple, list[float]] = {}
    for r in ablated:
        groups.setdefault((r["target"], r["n"]), []).append(r["kendall_tau"] - by_key[(r["target"], r["n"], r["draw"])])
    out = []
    for (target, n), deltas in groups.items():
        d = np.array(deltas)
        half = float(stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.nan
        out.append(
            {"target": target, "left_out": left_out, "n": n, "draws": len(d), "delta_tau": float(d.mean()),
             "low": float(d.mean()) - half, "high": float(d.mean()) + half}
        )  # fmt: skip
    return out
