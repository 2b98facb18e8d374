"""The few-shot predictor against N on the whole space: the model choice, the curve, the ablation.

Usage: NBCAP_DATA=../shared python experiments/few_shot_curve.py [--table FILE] [--out docs/results/data]
           [--choose] [--draws 10] [--sizes 10,25,50,100,200,1000]

``--choose`` fits every model of ``few_shot.MODELS`` on the choice draws (seeds 1000-1004, apart from
the reported 0-9) on CIFAR-10 validation and writes ``few_shot_models.csv``; the package's
``DEFAULT_MODEL`` is the one with the highest mean τ there. Without it: the default model on the
reported draws for the four 200-epoch targets (``few_shot_curve.csv``, mean ± sd over the draws), and
each feature block left out on the same draws (``few_shot_ablation.csv``: paired Δτ with its 95% t
interval). docs/results/few_shot.md is rendered from these by ``experiments/results_pages.py``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from sklearn.exceptions import ConvergenceWarning

from nasbench_capacitance import paths
from nasbench_capacitance.metrics import few_shot
from nasbench_capacitance.outputs import write_rows
from nasbench_capacitance.predict import curve
from nasbench_capacitance.predict.space import table_features
from nasbench_capacitance.whole_space import report

CHOICE_TARGET = "c10valid_xvalid_200_v10"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", help="a whole-space space.csv (default: the shipped quick table)")
    parser.add_argument("--out", default="docs/results/data", type=Path)
    parser.add_argument("--choose", action="store_true", help="compare the models on the choice draws")
    parser.add_argument("--draws", type=int, default=len(curve.REPORT_DRAWS))
    parser.add_argument("--sizes", default=",".join(map(str, curve.SIZES)))
    parser.add_argument("--blocks", default=",".join(few_shot.BLOCKS), help="feature blocks (default: all)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    features = table_features(args.table, args.blocks.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # the GP's noise level at its bound: harmless
    truths = report.standard_targets(paths.ground_truth_table())
    start = time.perf_counter()
    if args.choose:
        first = [t for t in truths if t.target.column == CHOICE_TARGET]
        rows = [r for m in few_shot.MODELS for r in curve.curve_rows(features, first, m, sizes, curve.CHOICE_DRAWS)]
        summary = curve.summarise(rows)
        write_rows(args.out / "few_shot_models.csv", summary, digits=4)
        for r in sorted(summary, key=lambda r: (r["n"], -r["kendall_tau"])):
            print(f"{r['model']:<9} N={r['n']:<5} τ {r['kendall_tau']:.3f} ± {r['kendall_tau_sd']:.3f}")
    else:
        draws = list(curve.REPORT_DRAWS)[: args.draws]
        full = curve.curve_rows(features, truths, few_shot.DEFAULT_MODEL, sizes, draws)
        write_rows(args.out / "few_shot_curve.csv", curve.summarise(full), digits=4)
        paired = []
        for block in features.blocks:
            ablated = curve.curve_rows(features.without(block), truths, few_shot.DEFAULT_MODEL, sizes, draws)
            paired += curve.paired_rows(full, ablated, block)
        write_rows(args.out / "few_shot_ablation.csv", paired, digits=4)
        for r in curve.summarise(full):
            print(f"{r['target']:<24} N={r['n']:<5} τ {r['kendall_tau']:.3f} ± {r['kendall_tau_sd']:.3f}")
    print(f"{time.perf_counter() - start:.0f} s; features: {len(features.names)} ({', '.join(features.blocks)})")


if __name__ == "__main__":
    main()
