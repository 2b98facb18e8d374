"""The shipped whole-space table against every target, and against the published whole-space values.

Usage: NBCAP_DATA=../shared python experiments/whole_space_table.py [--table FILE] [--out docs/results/data]
           [--figures figures] [--bootstrap 200]

Reads the shipped table (every training-free metric of all 15,625 cells at ``quick``; ``--table``
reads another ``space.csv``) and writes the summaries docs/results/whole_space.md is rendered from:
``whole_space_correlations.csv`` (Kendall τ, Spearman ρ and their 95% intervals, τ given parameter
count, per metric × target × subset; a metric scored on a sample of the cells, on those),
``whole_space_search.csv`` (what a search trusting each metric scored on every cell gets),
``whole_space_seconds.csv`` (mean seconds per cell of each metric on the machine that made the table) and
``whole_space_vs_published.csv`` (Spearman ρ beside Abdelfattah et al. 2021, Table 2, and beside the
reference scores the ground-truth table holds, on the same cells); and the figures
``space_topk.png`` and ``space_tau_heatmap.png``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
from pathlib import Path

import numpy as np

from nasbench_capacitance import metrics, paths, plots
from nasbench_capacitance.data.ground_truth import GroundTruth
from nasbench_capacitance.evaluation import ranking
from nasbench_capacitance.nb201 import space
from nasbench_capacitance.outputs import write_rows
from nasbench_capacitance.whole_space import report
from nasbench_capacitance.whole_space.table import reference_table

# Abdelfattah et al. 2021 ("Zero-Cost Proxies for Lightweight NAS"), Table 2: Spearman ρ over all 15,625
# cells against NB201's 200-epoch test accuracy; CIFAR-10 from the cifar10-valid run (c10valid_oritest_200_v10)
PUBLISHED_TARGETS = {"cifar10": "c10valid_oritest_200_v10", "cifar100": "c100_test_200", "imagenet16": "in16_test_200"}
PUBLISHED_RHO = {
    "grad_norm": (0.58, 0.64, 0.58),
    "snip": (0.58, 0.63, 0.58),
    "grasp": (0.48, 0.54, 0.56),
    "fisher": (0.36, 0.39, 0.33),
    "synflow": (0.74, 0.76, 0.75),
    "jacob_cov": (0.73, 0.71, 0.71),
}
TABLE_REFERENCES = {  # our metric -> (the ground-truth table's column per target, what it is)
    "jacob_cov": (("naswot_v1_score",) * 3, "NASWOT v1, the paper's code at 32x32"),
    "zen": (("naslib_zen_c10", "naslib_zen_c100", "naslib_zen_in16"), "NASLib's Zen-scores"),
}


def ground_truth_column(table: Path, name: str) -> np.ndarray:
    """Any numeric column of the ground-truth table, by NB201 index."""
    opener = gzip.open if str(table).endswith(".gz") else open
    with opener(table, "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    out = np.full(space.NUM_ARCHS, np.nan)
    for row in rows:
        out[int(row["index"])] = float(row[name]) if row[name] else np.nan
    return out


def against_published(ours: dict[str, np.ndarray], table: Path) -> list[dict]:
    """Our Spearman ρ beside the published one, and beside a reference score of the table on its cells."""
    rows = []
    everything = np.arange(space.NUM_ARCHS)
    for metric in ("grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov", "nwot", "zen"):
        for t, (dataset, column) in enumerate(PUBLISHED_TARGETS.items()):
            y = GroundTruth.from_table(table, target=column).accuracies(everything)
            published = PUBLISHED_RHO.get(metric, (np.nan,) * 3)[t]
            row = {"metric": metric, "dataset": dataset, "target": column, "rho": ranking.spearman_rho(ours[metric], y)}
            row |= {
                "published_rho": published,
                "gap": row["rho"] - published,
                "tau": ranking.kendall_tau(ours[metric], y),
            }
            row |= {"reference": "", "reference_rho": np.nan, "rho_on_reference_cells": np.nan, "reference_cells": 0}
            if metric in TABLE_REFERENCES:
                columns, label = TABLE_REFERENCES[metric]
                theirs = ground_truth_column(table, columns[t])
                keep = np.isfinite(theirs)
                row |= {
                    "reference": label,
                    "reference_rho": ranking.spearman_rho(theirs[keep], y[keep]),
                    "rho_on_reference_cells": ranking.spearman_rho(ours[metric][keep], y[keep]),
                    "reference_cells": int(keep.sum()),
                }
            rows.append(row)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--table", help="a space.csv, plain or gzipped (default: the shipped table)")
    p.add_argument("--out", default="docs/results/data")
    p.add_argument("--figures", default="figures")
    p.add_argument("--bootstrap", type=int, default=report.DEFAULT_BOOTSTRAP)
    args = p.parse_args()
    table = reference_table(args.table)
    names = [
        m for m in metrics.available("arch") + metrics.available("init") + metrics.available("aggregate") if m in table
    ]
    columns = {m: table[m] for m in names}
    truth_table = paths.ground_truth_table()
    targets = report.standard_targets(truth_table)
    indices = list(range(space.NUM_ARCHS))
    out, figures = Path(args.out), Path(args.figures)
    out.mkdir(parents=True, exist_ok=True)
    correlations = report.correlation_rows(columns, targets, indices, args.bootstrap)
    write_rows(out / "whole_space_correlations.csv", correlations, digits=4)
    everywhere = report.on_every_cell(columns)
    write_rows(out / "whole_space_search.csv", report.search_rows(everywhere, targets, indices), digits=4)
    seconds = [{"metric": m, "seconds": float(np.nanmean(table[f"time_{m}"]))} for m in names if f"time_{m}" in table]
    write_rows(out / "whole_space_seconds.csv", seconds, digits=4)
    write_rows(out / "whole_space_vs_published.csv", against_published(table, truth_table), digits=4)
    first = targets[0]
    truth = first.accuracies(indices)
    plots.space_tau_heatmap(figures / "space_tau_heatmap.png", correlations, report.IMAGES_NOTE)
    plots.space_top_k(figures / "space_topk.png", everywhere, truth, first.target.column)
    print(f"wrote the whole-space summaries to {out} and the figures to {figures}")


if __name__ == "__main__":
    main()
