"""The fidelity frontier: how well each reduced protocol ranks NB201, against its seconds per cell.

Each protocol × training seed is one resumable study in ``OUT/<protocol>/seed-<s>``; the summary
compares the seeds of a protocol on the cells all of them finished.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import numpy as np

from .. import metrics
from ..data.ground_truth import GroundTruth
from ..evaluation import ranking
from ..store.records import Record
from ..store.results import load_records


def last_epoch_scores(records: list[Record], name: str) -> np.ndarray:
    """Each record's score of ``name`` at the last budget it has (NaN where it has none)."""
    return np.array([r.score(name, r.budgets(name)[-1]) if r.budgets(name) else np.nan for r in records])


def seed_mean_interval(scores: list[np.ndarray], truth: np.ndarray, resamples: int = 1000) -> tuple[float, float]:
    """95% interval of the seed-mean τ over resampled cells (the same resample for every seed)."""
    draws = np.random.default_rng(0).integers(0, len(truth), size=(resamples, len(truth)))
    means = np.mean([ranking.kendall_tau_rows(s[draws], truth[draws]) for s in scores], axis=0)
    low, high = np.nanpercentile(means, [2.5, 97.5])
    return float(low), float(high)


def summarise(out: Path, names: list[str], truth: GroundTruth) -> list[dict]:
    """Per protocol: seconds per cell and, per score, τ as mean ± sd over seeds with a 95% cell interval.

    Only cells every seed has finished enter, so the seeds are compared on the same cells; a seed with
    fewer cells than the protocol's most complete one is still running and is left out (said on stderr),
    rather than shrinking every seed to its few cells.
    """
    rows = []
    for name in names:
        by_seed = {}
        for run_dir in sorted((out / name).glob("seed-*")):
            ok = {r["index"]: r for r in load_records(run_dir)[1] if r["status"] == "ok"}
            if ok:
                by_seed[run_dir.name] = ok
        if not by_seed:
            continue
        most = max(len(run) for run in by_seed.values())
        for seed, run in by_seed.items():
            if len(run) < most:
                print(f"{name} {seed}: {len(run)} of {most} cells, still running: left out", file=sys.stderr)
        runs = [run for run in by_seed.values() if len(run) == most]
        cells = sorted(set.intersection(*(set(run) for run in runs)))
        records = [[run[i] for i in cells] for run in runs]
        acc = truth.accuracies(cells)
        seconds = statistics.mean(r["timings"]["wall"] for run in records for r in run)
        row = {"protocol": name, "runs": len(runs), "cells": len(cells), "seconds_per_cell": seconds}
        names_seen = {m for run in records for r in run for m in r["metrics"]}
        for metric in ["val_acc", *metrics.capacitance_metrics(names_seen)]:
            scores = [last_epoch_scores(run, metric) for run in records]
            taus = [ranking.kendall_tau(s, acc) for s in scores]
            row[f"tau_{metric}"] = statistics.mean(taus)
            row[f"sd_{metric}"] = statistics.stdev(taus) if len(taus) > 1 else float("nan")
            row[f"low_{metric}"], row[f"high_{metric}"] = seed_mean_interval(scores, acc)
        rows.append(row)
    return rows


def pareto_front(rows: list[dict]) -> list[dict]:
    """The protocols that rank better than every cheaper one, cheapest first."""
    front: list[dict] = []
    for row in sorted(rows, key=lambda r: r["seconds_per_cell"]):
        if not front or row["tau_val_acc"] > front[-1]["tau_val_acc"]:
            front.append(row)
    return front
