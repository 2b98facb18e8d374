"""Does β_eff add information? A held-out study at one frontier protocol, and the paired ablation on it.

Usage: NBCAP_DATA=../shared python benchmarks/beta_study.py --out out/beta-study [--protocol quick]
           [--cells 300] [--exclude DIR ...] [--threads 1] [--workers 1] [--report-only] [--no-ablation]

The study's cells are drawn (one per isomorphism class, seed 2027) from outside the frontier's
development sample, outside quick's 100-cell seed-0 sample (``EXPLORED``: the pool the search
results looked at) and outside every study named by ``--exclude``, so no design choice was made on
them. The study is an ordinary resumable run in ``OUT/study`` (kill it, run the command again; parts
may run in different sessions). Then, on the cells finished so far:

- ``OUT/single.csv``: Kendall τ of each single score (validation accuracy, each β_eff, each
  zero-cost proxy of the shipped whole-space table) with its 95% bootstrap interval, and its partial τ
  with parameter count held fixed (a score that only counts parameters drops to about 0);
- ``OUT/ablation.csv`` and ``FIGURES/beta_ablation.png``: the calibrated model with and without the
  β_eff features at each calibration size (:mod:`nasbench_capacitance.ablation`);
- ``OUT/cost.csv``: seconds per cell each feature block costs, for the equal-compute comparison.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
from pathlib import Path

import beta_variants
import numpy as np
from fidelity_frontier import DEV_SEED, PROTOCOLS, TARGET, dev_sample, last_epoch_scores, protocol_config

from nasbench_capacitance import paths
from nasbench_capacitance.config import read_toml
from nasbench_capacitance.data import ground_truth
from nasbench_capacitance.evaluation import ablation, ranking
from nasbench_capacitance.nb201 import space
from nasbench_capacitance.store.results import load_records
from nasbench_capacitance.study.run import run_study
from nasbench_capacitance.whole_space.table import reference_table

STUDY_SEED = 2027  # the held-out sample's seed (the development sample's is DEV_SEED)
EXPLORED = {"archs": 100, "seed": 0}  # `nbcap run --preset quick --set sample.archs=100`: looked at before
# The frontier pins the probe's input to `eval` so its early runs resume; the study uses the default
# chosen on the development sample (docs/beta_study.md).
STUDY_OVERRIDES = ('train.probe_input="batch"',)
# Beside the default ablation: β_eff at initialisation alone, so that `free+beta − free+beta_init` says
# what the trained part of the trajectory adds.
FEATURE_SETS = ablation.FEATURE_SETS | {"free+beta_init": ("free", "beta_init")}
INCREMENTS = (*ablation.INCREMENTS, ("free+beta_init", "free"), ("free+beta", "free+beta_init"))


def held_out_sample(n: int, dev_cells: int, exclude: list[Path]) -> list[int]:
    """``n`` cells, one per isomorphism class, outside the development sample and the excluded studies."""
    taken = set(dev_sample(dev_cells)) | set(space.sample_indices(EXPLORED["archs"], EXPLORED["seed"], unique=True))
    for run_dir in exclude:
        taken |= {r["index"] for r in load_records(run_dir / "results.db")[1]}
    taken_classes = {space.arch_from_index(i).iso_key for i in taken}
    candidates = [i for i in space.unique_indices() if space.arch_from_index(i).iso_key not in taken_classes]
    if n > len(candidates):
        raise SystemExit(f"only {len(candidates)} isomorphism classes lie outside the excluded cells; ask for fewer")
    return random.Random(STUDY_SEED).sample(candidates, n)


def single_scores(ok: list, table: dict[str, np.ndarray], truth: np.ndarray) -> list[dict]:
    """τ with a 95% bootstrap interval of every score alone: validation accuracy, each reading of each
    β_eff trajectory (benchmarks/beta_variants.py) and each column of the whole-space table; τ given
    parameter count beside it."""
    indices = [r["index"] for r in ok]
    params = table["params"][indices]
    scores = {"val_acc": last_epoch_scores(ok, "val_acc")} | beta_variants.variant_scores(ok)
    scores |= {m: table[m][indices] for m in ablation.free_block(indices, table)[1]}
    rows = []
    for name, values in scores.items():
        finite = np.isfinite(values)
        if len(np.unique(values[finite])) < 2:
            print(f"{name}: the same value on every cell, no ranking (left out)")
            continue
        low, high = ranking.bootstrap_interval(ranking.kendall_tau_rows, values, truth)
        tau = ranking.kendall_tau(values, truth)
        row = {"score": name, "n": int(finite.sum()), "tau": tau, "low": low, "high": high}
        rows.append(row | {"tau_given_params": ranking.partial_kendall_tau(values, truth, params)})
    return rows


def block_costs(ok: list, table: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean seconds per cell: zero-cost table (free), training without the probe (curve), the probe (beta)."""
    probe = [r["timings"].get("probe", 0.0) + r["timings"].get("kernel", 0.0) for r in ok]
    return {
        "free": float(np.nanmean(table["time_wall"][[r["index"] for r in ok]])),
        "curve": statistics.mean(r["timings"]["wall"] for r in ok) - statistics.mean(probe),
        "beta": statistics.mean(probe),
    }


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def draw(rows: list[ablation.AblationRow], path: Path) -> None:
    """Top: τ of each feature set; bottom: Δτ of each β_eff increment; one column per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({r.model for r in rows})
    names = list(dict.fromkeys(r.features for r in rows))
    panels = [[n for n in names if "−" not in n], [n for n in names if "−" in n]]
    fig, axes = plt.subplots(2, len(models), figsize=(5.5 * len(models), 7), sharex=True, sharey="row", squeeze=False)
    for column, model in enumerate(models):
        for row_axes, names in zip(axes, panels):
            ax = row_axes[column]
            for name in names:
                line = sorted((r for r in rows if r.model == model and r.features == name), key=lambda r: r.calibration)
                x = [r.calibration for r in line]
                ax.plot(x, [r.tau for r in line], marker="o", label=name)
                ax.fill_between(x, [r.low for r in line], [r.high for r in line], alpha=0.15)
            ax.axhline(0, color="grey", lw=0.8)
            ax.set_xscale("log")
            sizes = sorted({r.calibration for r in rows})
            ax.set_xticks(sizes, [str(s) for s in sizes])
            ax.grid(alpha=0.3)
        axes[0][column].set_title(f"{model}: held-out cells, 95% paired bootstrap", fontsize=9)
        axes[1][column].set_xlabel("calibration cells")
    axes[0][0].set_ylabel(f"Kendall τ vs {TARGET}")
    axes[1][0].set_ylabel("Δτ from adding β_eff")
    for ax in axes[:, -1]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report_single(ok: list, table: dict[str, np.ndarray], truth: np.ndarray, out: Path) -> None:
    """``OUT/single.csv`` and ``OUT/cost.csv``, printed too."""
    single = single_scores(ok, table, truth)
    write_csv(single, out / "single.csv")
    for row in single:
        interval = f"[{row['low']:+.3f}, {row['high']:+.3f}]"
        given = f"τ|params {row['tau_given_params']:+.3f}"
        print(f"{row['score']:<26} τ {row['tau']:+.3f} {interval}  {given}  n={row['n']}")
    costs = block_costs(ok, table)
    write_csv([costs], out / "cost.csv")
    print("seconds per cell: " + ", ".join(f"{k} {v:.2f}" for k, v in costs.items()))


def report_ablation(
    ok: list, table: dict[str, np.ndarray], truth: np.ndarray, args: argparse.Namespace, out: Path
) -> None:
    """``OUT/ablation.csv`` and ``FIGURES/beta_ablation.png``, printed too (minutes: hundreds of model fits)."""
    blocks = {
        "free": ablation.free_block([r["index"] for r in ok], table)[0],
        "curve": ablation.curve_block(ok),
        "beta": ablation.beta_block(ok),
        "beta_init": ablation.beta_init_block(ok),
    }
    rows = ablation.ablate(
        blocks,
        truth,
        sizes=args.sizes,
        repeats=args.repeats,
        seed=DEV_SEED,
        feature_sets=FEATURE_SETS,
        increments=INCREMENTS,
    )
    write_csv([r.as_dict() for r in rows], out / "ablation.csv")
    for r in rows:
        interval = f"[{r.low:+.3f}, {r.high:+.3f}]"
        print(f"{r.model:<6} n={r.calibration:<4} {r.features:<30} {r.tau:+.3f} ± {r.sd:.3f} {interval}")
    figures = Path(args.figures)
    figures.mkdir(parents=True, exist_ok=True)
    draw(rows, figures / "beta_ablation.png")


def calibration_sizes(text: str) -> list[int]:
    """--sizes: comma-separated calibration sizes, at least 2 cells each (a regression needs two points)."""
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None
    if min(sizes) < 2:
        raise argparse.ArgumentTypeError(f"calibration sizes must be at least 2 cells, got {text}")
    return sizes


def positive_int(text: str) -> int:
    """--cells, --repeats: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--protocol", default="quick", help="a protocol of frontier_protocols.toml")
    p.add_argument("--cells", type=positive_int, default=300)
    p.add_argument("--dev-cells", type=int, default=60, help="the development sample's size (its cells are excluded)")
    p.add_argument("--exclude", nargs="*", default=[], help="study folders whose cells are excluded")
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--sizes", type=calibration_sizes, default=list(ablation.DEFAULT_SIZES), help="e.g. 10,25,50")
    p.add_argument("--repeats", type=positive_int, default=20)
    p.add_argument("--figures", default="figures")
    p.add_argument("--report-only", action="store_true", help="analyse the cells finished so far, train nothing")
    p.add_argument(
        "--no-ablation", action="store_true", help="single scores and costs only (the ablation takes minutes)"
    )
    args = p.parse_args()
    specs = read_toml(PROTOCOLS)
    if args.protocol not in specs:
        sys.exit(f"unknown protocol {args.protocol!r}; defined in {PROTOCOLS}: {', '.join(specs)}")
    out = Path(args.out)
    cells = held_out_sample(args.cells, args.dev_cells, [Path(e) for e in args.exclude])
    if not args.report_only:
        cfg = protocol_config(specs[args.protocol], cells, args.seed, args.workers, args.threads, STUDY_OVERRIDES)
        run_study(cfg, out / "study")
    store = out / "study" / "results.db"
    if not store.is_file():
        sys.exit(f"no study at {store}: run without --report-only to train it")
    ok = [r for r in load_records(store)[1] if r["status"] == "ok"]
    if len(ok) < 3:  # fewer cells give no ranking to report
        sys.exit(f"{len(ok)} finished cells in {store}: too few to rank; train more first")
    if not args.no_ablation and len(ok) < ablation.MIN_HELD_OUT + min(args.sizes):
        sys.exit(f"{len(ok)} finished cells in {store}: too few for the ablation; train more or add --no-ablation")
    truth = ground_truth.GroundTruth.from_table(paths.ground_truth_table(), TARGET).accuracies([r["index"] for r in ok])
    table = reference_table()
    report_single(ok, table, truth, out)
    if not args.no_ablation:
        report_ablation(ok, table, truth, args, out)


if __name__ == "__main__":
    main()
