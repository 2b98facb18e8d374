"""``nbcap predict``: fit the few-shot predictor on a calibration set and write the ranked space.

The calibration set is a file of the user's trained cells (an ``index`` or ``arch_str`` column and one
accuracy column) or ``N`` seeded random cells with NB201's accuracy of ``--target`` (the benchmark
setting). Outputs in ``OUT``: ``ranked.csv`` (every cell of the table, best predicted first, with its
uncertainty), ``scores.csv`` (the held-out cells' predictions, an imported score for
``nbcap compare predicted --scores OUT/scores.csv``), ``summary.json`` (what was fitted, and the held-out
τ, ρ and top-k against NB201's four 200-epoch targets).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from .. import paths
from ..data.ground_truth import GroundTruth
from ..evaluation import ranking
from ..metrics.imported import read_scores
from ..nb201 import space
from ..outputs import to_json, write_rows
from ..whole_space import report as space_report
from .space import PredictError, Prediction, fit_table, table_features


def calibration_set(spec: str, target: str, seed: int, population: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """(cells, accuracies, how they were chosen) from ``--calibration FILE|N``."""
    if spec.strip().isdigit():
        size = int(spec)
        if not 1 <= size < len(population):
            raise PredictError(
                f"--calibration {spec}: draw 1..{len(population) - 1} cells of the table's {len(population)}"
            )
        cells = np.sort(np.random.default_rng(seed).choice(population, size=size, replace=False))
        truth = GroundTruth.from_table(paths.ground_truth_table(), target)
        return cells, truth.accuracies(cells), f"{size} random cells (seed {seed}) with NB201's {target}"
    path = Path(spec)
    if not path.is_file():
        raise PredictError(f"--calibration {spec}: neither a number of cells nor a file (give N or FILE.csv)")
    scores = read_scores(path)
    names = list(scores.columns)
    name = "accuracy" if "accuracy" in names else names[0] if len(names) == 1 else None
    if name is None:
        raise PredictError(f"{path}: give one accuracy column (or one named 'accuracy'), found {', '.join(names)}")
    column = scores.columns[name]
    cells = np.flatnonzero(np.isfinite(column))
    return cells, column[cells], f"{len(cells)} cells of {path} (column {name!r})"


def held_out_stats(prediction: Prediction) -> list[dict]:
    """Held-out τ, ρ and search quality against each NB201 200-epoch target."""
    held = prediction.held_out()
    cells = prediction.features.cells[held]
    rows = []
    for truth in space_report.standard_targets(paths.ground_truth_table()):
        target = truth.accuracies(cells)
        quality = ranking.search_quality(prediction.predicted[held], target)
        rows.append(
            {"target": truth.target.column, "held_out": int(np.isfinite(target).sum()),
             "kendall_tau": ranking.kendall_tau(prediction.predicted[held], target),
             "spearman_rho": ranking.spearman_rho(prediction.predicted[held], target)} | quality.as_dict()
        )  # fmt: skip
    return rows


def predict(
    calibration: str,
    out: str | Path,
    target: str = "c10valid_xvalid_200_v10",
    model: str = "forest",
    blocks: tuple[str, ...] | None = None,
    table: str | Path | None = None,
    seed: int = 0,
    stream: TextIO | None = None,
) -> Prediction:
    """Fit on ``calibration`` and write ``OUT/ranked.csv``, ``scores.csv`` and ``summary.json``."""
    from ..metrics import few_shot

    stream = stream if stream is not None else sys.stderr
    few_shot.make_model(model, seed)  # an unknown model, and an unknown target, are refused before any work
    if calibration.strip().isdigit():
        GroundTruth.from_table(paths.ground_truth_table(), target)
    features = table_features(table, blocks or tuple(few_shot.BLOCKS))
    cells, accuracies, chosen = calibration_set(calibration, target, seed, features.cells)
    prediction = fit_table(features, cells, accuracies, model=model, seed=seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    order = np.argsort(-prediction.predicted, kind="stable")
    known = dict(zip(prediction.calibration.tolist(), prediction.accuracies.tolist()))
    write_rows(
        out / "ranked.csv",
        [
            {"rank": rank + 1, "index": int(c), "arch_str": space.arch_from_index(int(c)).to_string(),
             "predicted": prediction.predicted[i], "uncertainty": prediction.uncertainty[i],
             "calibration": int(int(c) in known), "accuracy": known.get(int(c), float("nan"))}
            for rank, i in enumerate(order) for c in [features.cells[i]]
        ],
        digits=4,
    )  # fmt: skip
    held = prediction.held_out()
    write_rows(
        out / "scores.csv",
        [{"index": int(c), "predicted": p} for c, p in zip(features.cells[held], prediction.predicted[held])],
        digits=6,
    )
    results = held_out_stats(prediction)
    summary = {
        "calibration": chosen,
        "model": model,
        "seed": seed,
        "table": features.path,
        "blocks": list(features.blocks),
        "features": features.names,
        "cells_ranked": len(features.cells),
        "held_out": results,
    }
    (out / "summary.json").write_text(to_json(summary, indent=1) + "\n")
    stream.write(f"few-shot predictor ({model}, {len(features.names)} features: {', '.join(features.blocks)}) ")
    stream.write(f"fitted on {chosen}; {len(features.cells):,} cells ranked -> {out / 'ranked.csv'}\n")
    for r in results:
        stream.write(
            f"  held-out {r['target']:<24} τ {r['kendall_tau']:.3f}  ρ {r['spearman_rho']:.3f}  "
            f"top-10 mean {r['top10']:.2f}  (n={r['held_out']:,})\n"
        )
    stream.write(
        f"beside every baseline: nbcap compare predicted --scores {out / 'scores.csv'} --whole-space --out DIR\n"
    )
    return prediction
