"""β_eff design variants on the frontier's development runs: which reading of the trajectory ranks best?

Usage: NBCAP_DATA=../shared python benchmarks/beta_variants.py --frontier out/frontier [--protocols quick,...]

Reads the runs ``benchmarks/fidelity_frontier.py`` stored (development sample only: no reported
study's cells) and scores every β_eff strategy the run recorded in several ways: its level at each
snapshot, its mean over the snapshots, its change over the first snapshot interval, its relative
(log) change from initialisation to the end, and its slope over the epochs. Printed and written to
``FRONTIER/beta_variants.csv``: Kendall τ against the 200-epoch accuracy, mean ± sd over training
seeds (each seed on the cells it finished). The sign is reported as measured (a negative τ means
smaller β_eff ranks better).
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
from collections.abc import Callable
from pathlib import Path

import numpy as np
from fidelity_frontier import TARGET

from nasbench_capacitance import metrics, paths
from nasbench_capacitance.data import ground_truth
from nasbench_capacitance.evaluation import ranking
from nasbench_capacitance.store.results import load_records


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


def trajectories(records: list, name: str) -> tuple[list[str], np.ndarray]:
    """Snapshot budgets (sorted) and one row of β_eff values per record (NaN where missing)."""
    budgets = sorted({b for r in records for b in r["metrics"].get(name, {})}, key=float)
    rows = [[r["metrics"].get(name, {}).get(b, np.nan) for b in budgets] for r in records]
    return budgets, np.array(rows, dtype=float)


def variant_scores(records: list) -> dict[str, np.ndarray]:
    """Every variant of every recorded strategy, one score per record."""
    out = {}
    for name in metrics.capacitance_metrics({m for r in records for m in r["metrics"]}):
        budgets, values = trajectories(records, name)
        for budget, column in zip(budgets, values.T):
            out[f"{name}@{budget}"] = column
        for variant, read in VARIANTS.items():
            out[f"{name}:{variant}"] = np.array([read(row) if np.isfinite(row).all() else np.nan for row in values])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frontier", required=True, help="the --out folder of fidelity_frontier.py")
    p.add_argument("--protocols", help="comma-separated protocol folders (default: every one with runs)")
    args = p.parse_args()
    root = Path(args.frontier)
    names = args.protocols.split(",") if args.protocols else sorted(d.name for d in root.iterdir() if d.is_dir())
    truth = ground_truth.GroundTruth.from_table(paths.ground_truth_table(), TARGET)
    rows = []
    for protocol in names:
        taus: dict[str, list[float]] = {}
        cells = set()
        for run_dir in sorted((root / protocol).glob("seed-*")):
            ok = [r for r in load_records(run_dir / "results.db")[1] if r["status"] == "ok"]
            if not ok:
                continue
            accuracy = truth.accuracies([r["index"] for r in ok])
            cells.add(len(ok))
            for variant, scores in variant_scores(ok).items():
                taus.setdefault(variant, []).append(ranking.kendall_tau(scores, accuracy))
        for variant, all_values in taus.items():
            values = [v for v in all_values if math.isfinite(v)]  # a constant score (β_weight at init) has no τ
            if not values:
                continue
            sd = statistics.stdev(values) if len(values) > 1 else float("nan")
            n = "/".join(map(str, sorted(cells)))
            row = {"protocol": protocol, "variant": variant, "cells": n, "seeds": len(values)}
            rows.append(row | {"tau": statistics.mean(values), "sd": sd})
            print(f"{protocol:<18} {variant:<28} τ {rows[-1]['tau']:+.3f} ± {sd:.3f}  ({len(values)} seeds, n={n})")
    if rows:
        with open(root / "beta_variants.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
