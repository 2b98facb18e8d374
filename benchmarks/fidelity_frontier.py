"""The fidelity frontier: how well each reduced training protocol ranks NB201, against its CPU seconds.

Usage: NBCAP_DATA=../shared python benchmarks/fidelity_frontier.py --out out/frontier
           [--protocols quick,r16,...] [--seeds 0,1,2] [--dev-cells 60] [--workers 2] [--report-only]

Every protocol of ``benchmarks/frontier_protocols.toml`` trains the same development sample (60
cells, one per isomorphism class, drawn with seed 2026 and never part of a reported study) once per
training seed, each run a resumable study in ``OUT/<protocol>/seed-<s>`` (kill it and run it again).
Printed and written to ``OUT/frontier.csv``: per protocol, CPU seconds per cell and Kendall τ of
validation accuracy and of every β_eff strategy against ``c10valid_xvalid_200_v10`` at the last epoch,
as mean ± sd over the training seeds with a 95% bootstrap interval over the cells;
``OUT/frontier.png`` draws τ(validation accuracy) with that interval against seconds per cell
(``--figure`` copies it to another path too).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

import numpy as np

from nasbench_capacitance import config, metrics, paths
from nasbench_capacitance.config import read_toml
from nasbench_capacitance.data import ground_truth
from nasbench_capacitance.evaluation import ranking
from nasbench_capacitance.nb201 import space
from nasbench_capacitance.store.results import load_records
from nasbench_capacitance.study.run import run_study

DEV_SEED = 2026  # the development sample's seed; a reported study must not share its cells
PROTOCOLS = Path(__file__).with_name("frontier_protocols.toml")
TARGET = "c10valid_xvalid_200_v10"
# Every protocol trains channels-last: 2.0x faster than contiguous for the quick network on the AMD EPYC
# that ran the frontier (out/bench_precision_quick.txt; an Intel probe found it slower there). It only
# reorders the arithmetic (|Δ val acc| 0.33 points on 3 cells), like a thread count; quick_contiguous
# measures whether that moves τ.
# The probe input is pinned to eval: the frontier's runs began before batch became the default, and
# pinning keeps them resumable; quick_batchprobe measures batch beside quick (validation accuracy,
# the frontier's axis, does not depend on it).
BASE_OVERRIDES = ["train.channels_last=true", "train.probe_input=eval", "proxies.names=[]"]


def dev_sample(n: int) -> list[int]:
    return space.sample_indices(n, seed=DEV_SEED, unique=True)


def protocol_config(
    spec: dict, cells: list[int], seed: int, workers: int, threads: int, base: tuple[str, ...] = ()
) -> config.StudyConfig:
    """The protocol's config on ``cells``: ``base`` overrides follow BASE_OVERRIDES, the protocol's own follow them."""
    run = [f"run.seed={seed}", f"run.workers={workers}", f"run.threads={threads}"]
    overrides = [*BASE_OVERRIDES, *base, *spec.get("set", []), *run]
    cfg = config.load(spec.get("preset", "quick"), overrides=overrides)
    return cfg.updated({"sample": {"indices": cells}}, "the protocol's cells")


def last_epoch_scores(records: list, name: str) -> np.ndarray:
    return np.array([r.score(name, r.budgets(name)[-1]) if r.budgets(name) else np.nan for r in records])


def seed_mean_interval(scores: list[np.ndarray], truth: np.ndarray, resamples: int = 1000) -> tuple[float, float]:
    """95% interval of the seed-mean τ over resampled cells (the same resample for every seed)."""
    draws = np.random.default_rng(0).integers(0, len(truth), size=(resamples, len(truth)))
    means = np.mean([ranking.kendall_tau_rows(s[draws], truth[draws]) for s in scores], axis=0)
    low, high = np.nanpercentile(means, [2.5, 97.5])
    return float(low), float(high)


def summarise(out: Path, names: list[str], truth: ground_truth.GroundTruth) -> list[dict]:
    """Per protocol: seconds per cell and, per score, τ as mean ± sd over seeds with a 95% cell interval.

    Only cells every seed has finished enter, so the seeds are compared on the same cells; a seed with
    fewer cells than the protocol's most complete one is still running and is left out (said on stderr),
    rather than shrinking every seed to its few cells.
    """
    rows = []
    for name in names:
        by_seed = {}
        for run_dir in sorted((out / name).glob("seed-*")):
            ok = {r["index"]: r for r in load_records(run_dir / "results.db")[1] if r["status"] == "ok"}
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


def draw(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # protocols that train alike (they differ only in what the probe reads) share one point
    points: dict[tuple, list[dict]] = {}
    for row in rows:
        points.setdefault((row["tau_val_acc"], row["cells"], row["runs"]), []).append(row)
    fig, ax = plt.subplots(figsize=(8.5, 5))
    by_cost = sorted(points.values(), key=lambda same: same[0]["seconds_per_cell"])
    for rank, same in enumerate(by_cost):
        row = same[0]
        tau = row["tau_val_acc"]
        error = [[tau - row["low_val_acc"]], [row["high_val_acc"] - tau]]
        ax.errorbar(row["seconds_per_cell"], tau, yerr=error, fmt="o", capsize=3)
        right = rank % 2 == 0  # neighbours in cost label on opposite sides, so close points stay legible
        ax.annotate(
            " = ".join(r["protocol"] for r in same) + f" ({row['runs']}×{row['cells']})",
            (row["seconds_per_cell"], tau),
            fontsize=7,
            xytext=(5 if right else -5, 3),
            textcoords="offset points",
            ha="left" if right else "right",
        )
    frontier = pareto_front([same[0] for same in by_cost])
    most_seconds = by_cost[-1][0]["seconds_per_cell"]  # the best so far holds up to the costliest protocol
    ax.step(
        [r["seconds_per_cell"] for r in frontier] + [most_seconds],
        [r["tau_val_acc"] for r in frontier] + [frontier[-1]["tau_val_acc"]],
        where="post",
        color="grey",
        alpha=0.6,
        label="frontier: best τ at no more seconds",
    )
    ax.legend(loc="upper left", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("CPU seconds per cell (1 thread)")
    ax.set_ylabel(f"Kendall τ of validation accuracy vs {TARGET}")
    ax.set_title("fidelity frontier: seed-mean τ, 95% interval over the cells (seeds×cells)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--protocols", help="comma-separated names from frontier_protocols.toml (default: all)")
    p.add_argument("--seeds", default="0,1,2", help="training seeds")
    p.add_argument("--dev-cells", type=int, default=60)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch threads per cell (0: the cores shared out)")
    p.add_argument("--report-only", action="store_true", help="summarise what is stored, train nothing")
    p.add_argument("--figure", help="also draw the frontier to this path (e.g. figures/fidelity_frontier.png)")
    args = p.parse_args()
    specs = read_toml(PROTOCOLS)
    names = args.protocols.split(",") if args.protocols else list(specs)
    unknown = [n for n in names if n not in specs]
    if unknown:
        sys.exit(f"unknown protocol(s) {unknown}; defined in {PROTOCOLS}: {', '.join(specs)}")
    out = Path(args.out)
    cells = dev_sample(args.dev_cells)
    if not args.report_only:
        for seed in (int(s) for s in args.seeds.split(",")):
            for name in names:
                print(f"{name}, seed {seed}", file=sys.stderr)
                run_study(
                    protocol_config(specs[name], cells, seed, args.workers, args.threads), out / name / f"seed-{seed}"
                )
    truth = ground_truth.GroundTruth.from_table(paths.ground_truth_table(), TARGET)
    rows = summarise(out, names, truth)
    with open(out / "frontier.csv", "w", newline="") as f:
        columns = sorted({k for r in rows for k in r}, key=lambda k: (k != "protocol", k))
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        taus = "  ".join(f"{k[4:]} {row[k]:+.3f}±{row['sd_' + k[4:]]:.3f}" for k in sorted(row) if k.startswith("tau_"))
        size = f"{row['runs']}×{row['cells']} cells"
        print(f"{row['protocol']:<18} {row['seconds_per_cell']:6.1f} s/cell  {size}  {taus}")
    for path in [out / "frontier.png", *([Path(args.figure)] if args.figure else [])]:
        if rows:
            draw(rows, path)


if __name__ == "__main__":
    main()
