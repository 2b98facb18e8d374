"""Does β_eff add information? A held-out study at one protocol, and the paired ablation on it.

Usage: NBCAP_DATA=../shared python experiments/beta_study.py --out out/beta-study [--protocol n3]
           [--cells 300] [--exclude DIR ...] [--seed 0] [--threads 1] [--workers 1] [--report-only]
           [--no-ablation] [--figures DIR]

The study's cells are the held-out sample (nasbench_capacitance.study.samples): outside the
development sample, the explored quick sample and every study named by ``--exclude``. The study is
an ordinary resumable run in ``OUT/study`` (kill it, run the command again). Then, on the cells
finished so far: ``OUT/single.csv`` (τ of each score alone with its 95% interval and τ given
parameter count), ``OUT/cost.csv`` (seconds per cell per feature block), ``OUT/ablation.csv`` and
``FIGURES/beta_ablation.png`` (the calibrated model with and without β_eff).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nasbench_capacitance import config, paths, plots
from nasbench_capacitance.data.ground_truth import GroundTruth
from nasbench_capacitance.evaluation import ablation
from nasbench_capacitance.outputs import write_rows
from nasbench_capacitance.store.results import load_records, results_file
from nasbench_capacitance.study import beta_study, protocols, samples
from nasbench_capacitance.study.run import run_study
from nasbench_capacitance.whole_space.table import reference_table

# The frontier pins the probe's input to eval so its early runs resume; the held-out study uses the
# default chosen on the development sample (docs/beta_study.md).
STUDY_OVERRIDES = ('train.probe_input="batch"',)


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
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--protocol", default="quick", help="a preset (e.g. n3, n3_e1_snap20)")
    p.add_argument("--cells", type=positive_int, default=samples.STUDY_CELLS)
    p.add_argument("--dev-cells", type=int, default=samples.DEV_CELLS)
    p.add_argument("--exclude", nargs="*", default=[], help="study folders whose cells are excluded")
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--sizes", type=calibration_sizes, default=list(ablation.DEFAULT_SIZES), help="e.g. 10,25,50")
    p.add_argument("--repeats", type=positive_int, default=20)
    p.add_argument("--figures", default="figures")
    p.add_argument("--report-only", action="store_true", help="analyse the cells finished so far, train nothing")
    p.add_argument("--no-ablation", action="store_true", help="single scores and costs only (the ablation: minutes)")
    args = p.parse_args()
    if args.protocol not in config.PRESETS:
        sys.exit(f"unknown protocol {args.protocol!r}; the presets are {', '.join(config.PRESETS)}")
    out = Path(args.out)
    excluded = [r["index"] for e in args.exclude for r in load_records(e)[1]]
    cells = samples.held_out_sample(args.cells, args.dev_cells, excluded)
    if not args.report_only:
        cfg = protocols.protocol_config(args.protocol, cells, args.seed, args.workers, args.threads, STUDY_OVERRIDES)
        run_study(cfg, out / "study")
    store = results_file(out / "study")
    if not store.is_file():
        sys.exit(f"no study at {store}: run without --report-only to train it")
    ok = [r for r in load_records(store)[1] if r["status"] == "ok"]
    if len(ok) < 3:
        sys.exit(f"{len(ok)} finished cells in {store}: too few to rank; train more first")
    if not args.no_ablation and len(ok) < ablation.MIN_HELD_OUT + min(args.sizes):
        sys.exit(f"{len(ok)} finished cells in {store}: too few for the ablation; train more or add --no-ablation")
    truth = GroundTruth.from_table(paths.ground_truth_table(), samples.TARGET).accuracies([r["index"] for r in ok])
    table = reference_table()
    single = beta_study.single_scores(ok, table, truth)
    write_rows(out / "single.csv", single)
    for row in single:
        print(
            f"{row['score']:<26} τ {row['tau']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}]  "
            f"τ|params {row['tau_given_params']:+.3f}  n={row['n']}"
        )
    costs = beta_study.block_costs(ok, table)
    write_rows(out / "cost.csv", [costs])
    print("seconds per cell: " + ", ".join(f"{k} {v:.2f}" for k, v in costs.items()))
    if args.no_ablation:
        return
    rows = ablation.ablate(
        beta_study.ablation_blocks(ok, table),
        truth,
        sizes=args.sizes,
        repeats=args.repeats,
        seed=samples.DEV_SEED,
        feature_sets=beta_study.FEATURE_SETS,
        increments=beta_study.INCREMENTS,
    )
    write_rows(out / "ablation.csv", [r.as_dict() for r in rows])
    for r in rows:
        print(r.line())
    figures = Path(args.figures)
    figures.mkdir(parents=True, exist_ok=True)
    plots.ablation_curves(figures / "beta_ablation.png", rows, samples.TARGET)


if __name__ == "__main__":
    main()
