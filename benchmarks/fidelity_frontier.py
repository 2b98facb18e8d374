"""The fidelity frontier: how well each reduced training protocol ranks NB201, against its CPU seconds.

Usage: NBCAP_DATA=../shared python benchmarks/fidelity_frontier.py --out out/frontier
           [--protocols quick,r16,...] [--seeds 0,1,2] [--dev-cells 60] [--workers 2] [--report-only]

Every protocol of ``benchmarks/frontier_protocols.toml`` trains the same development sample (60
cells, one per isomorphism class, drawn with seed 2026 and never part of a reported study) once per
training seed, each run a resumable study in ``OUT/<protocol>/seed-<s>`` (kill it and run it again).
Printed and written to ``OUT/frontier.csv``: per protocol, CPU seconds per cell and Kendall τ of
validation accuracy and of every β_eff variant against ``c10valid_xvalid_200_v10`` at the last epoch,
as mean ± sd over the training seeds; ``OUT/frontier.png`` draws τ(validation accuracy) against
seconds per cell with those spreads.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

import numpy as np

from nasbench_capacitance import benchmark, config, metrics, paths, ranking, space
from nasbench_capacitance.config import read_toml
from nasbench_capacitance.runner import run_study
from nasbench_capacitance.store import load_records

DEV_SEED = 2026  # the development sample's seed; a reported study must not share its cells
PROTOCOLS = Path(__file__).with_name("frontier_protocols.toml")
TARGET = "c10valid_xvalid_200_v10"
# Every protocol trains channels-last: 2.0x faster than contiguous for the quick network on the AMD EPYC
# that ran the frontier (out/bench_precision_quick.txt; an Intel probe found it slower there), the same arithmetic reordered (|Δ val acc| 0.33 points on 3 cells: rounding, like a thread count).
BASE_OVERRIDES = ["train.channels_last=true", "proxies.names=[]"]


def dev_sample(n: int) -> list[int]:
    return space.sample_indices(n, seed=DEV_SEED, unique=True)


def protocol_config(spec: dict, cells: list[int], seed: int, workers: int, threads: int) -> config.StudyConfig:
    run = [f"run.seed={seed}", f"run.workers={workers}", f"run.threads={threads}"]
    overrides = [*BASE_OVERRIDES, *spec.get("set", []), *run]
    cfg = config.load(spec.get("preset", "quick"), overrides=overrides)
    return cfg.updated({"sample": {"indices": cells}}, "the development sample")


def last_epoch_scores(records: list, name: str) -> np.ndarray:
    return np.array([r.score(name, r.budgets(name)[-1]) if r.budgets(name) else np.nan for r in records])


def summarise(out: Path, names: list[str], truth: benchmark.GroundTruth) -> list[dict]:
    rows = []
    for name in names:
        taus: dict[str, list[float]] = {}
        seconds = []
        for run_dir in sorted((out / name).glob("seed-*")):
            _, records = load_records(run_dir / "results.db")
            ok = [r for r in records if r["status"] == "ok"]
            if not ok:
                continue
            acc = truth.accuracies([r["index"] for r in ok])
            seconds.append(statistics.mean(r["timings"]["wall"] for r in ok))
            for metric in ["val_acc", *metrics.capacitance_metrics({m for r in ok for m in r["metrics"]})]:
                taus.setdefault(metric, []).append(ranking.kendall_tau(last_epoch_scores(ok, metric), acc))
        if not seconds:
            continue
        row = {"protocol": name, "runs": len(seconds), "seconds_per_cell": statistics.mean(seconds)}
        for metric, values in taus.items():
            row[f"tau_{metric}"] = statistics.mean(values)
            row[f"sd_{metric}"] = statistics.stdev(values) if len(values) > 1 else float("nan")
        rows.append(row)
    return rows


def draw(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        ax.errorbar(row["seconds_per_cell"], row["tau_val_acc"], yerr=row["sd_val_acc"], fmt="o", capsize=3)
        ax.annotate(
            row["protocol"],
            (row["seconds_per_cell"], row["tau_val_acc"]),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.set_xscale("log")
    ax.set_xlabel("CPU seconds per cell (2 cores)")
    ax.set_ylabel(f"Kendall τ of validation accuracy vs {TARGET}")
    ax.set_title("fidelity frontier: mean ± sd over training seeds", fontsize=10)
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
    truth = benchmark.GroundTruth.from_table(paths.ground_truth_table(), TARGET)
    rows = summarise(out, names, truth)
    with open(out / "frontier.csv", "w", newline="") as f:
        columns = sorted({k for r in rows for k in r}, key=lambda k: (k != "protocol", k))
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        taus = "  ".join(f"{k[4:]} {row[k]:+.3f}±{row['sd_' + k[4:]]:.3f}" for k in sorted(row) if k.startswith("tau_"))
        print(f"{row['protocol']:<14} {row['seconds_per_cell']:7.1f} s/cell  {row['runs']} runs  {taus}")
    if rows:
        draw(rows, out / "frontier.png")


if __name__ == "__main__":
    main()
