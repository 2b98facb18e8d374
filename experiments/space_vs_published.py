"""Whole-space rank correlations of our proxies beside the published whole-space values.

Usage: NBCAP_DATA=../shared python experiments/space_vs_published.py [--space out/space/space.csv]
(default: the shipped reference table, `nbcap space --preset quick`).

Published: Abdelfattah et al. 2021 ("Zero-Cost Proxies for Lightweight NAS", Table 2: Spearman ρ over
all 15,625 NB201 cells, ground truth NB201's 200-epoch test accuracy; CIFAR-10 from the
`cifar10-valid` run, i.e. our `c10valid_oritest_200_v10`). Computed here from the table's own
columns: NASWOT v1 (`naswot_v1_score`, the paper's code at 32x32 = our jacob_cov) and NASLib's Zen
scores (`naslib_zen_*`), on the same cells as ours. Gaps larger than 0.05 are marked.
"""

from __future__ import annotations

import argparse
import csv
import gzip

import numpy as np

from nasbench_capacitance import paths
from nasbench_capacitance.data.ground_truth import GroundTruth
from nasbench_capacitance.evaluation import ranking
from nasbench_capacitance.whole_space.table import reference_table

TARGETS = {"CIFAR-10": "c10valid_oritest_200_v10", "CIFAR-100": "c100_test_200", "ImageNet16-120": "in16_test_200"}
PUBLISHED_RHO = {  # Abdelfattah et al. 2021, Table 2 (NB201, all cells)
    "grad_norm": (0.58, 0.64, 0.58),
    "snip": (0.58, 0.63, 0.58),
    "grasp": (0.48, 0.54, 0.56),
    "fisher": (0.36, 0.39, 0.33),
    "synflow": (0.74, 0.76, 0.75),
    "jacob_cov": (0.73, 0.71, 0.71),
}
TABLE_REFERENCES = {  # our metric -> (the table's column per target, what it is)
    "jacob_cov": (("naswot_v1_score",) * 3, "NASWOT v1, paper code"),
    "zen": (("naslib_zen_c10", "naslib_zen_c100", "naslib_zen_in16"), "NASLib Zen"),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", help="a space.csv (default: the shipped reference table)")
    args = p.parse_args()
    ours = reference_table(args.space)
    table = paths.ground_truth_table()
    truth = {name: GroundTruth.from_table(table, target=column) for name, column in TARGETS.items()}
    everything = np.arange(len(ours["index"]))
    print(
        f"{'metric':<11}{'target':<16}{'our rho':>9}{'published':>10}{'gap':>9}{'our tau':>9}"
        "  reference on the same cells"
    )
    for metric in ("grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov", "nwot", "zen"):
        for t, (name, gt) in enumerate(truth.items()):
            y = gt.accuracies(everything)
            rho = ranking.spearman_rho(ours[metric], y)
            tau = ranking.kendall_tau(ours[metric], y)
            published = PUBLISHED_RHO.get(metric, (np.nan,) * 3)[t]
            gap = rho - published
            mark = " *" if abs(gap) > 0.05 else ""
            reference = ""
            if metric in TABLE_REFERENCES:
                columns, label = TABLE_REFERENCES[metric]
                theirs = _column(table, columns[t])
                keep = np.isfinite(theirs)
                reference = (
                    f"{label}: rho {ranking.spearman_rho(theirs[keep], y[keep]):.3f} vs ours "
                    f"{ranking.spearman_rho(ours[metric][keep], y[keep]):.3f} on {int(keep.sum())} cells"
                )
            published_text = "" if np.isnan(published) else f"{published:.2f}"
            gap_text = "" if np.isnan(published) else f"{gap:+.2f}{mark}"
            print(f"{metric:<11}{name:<16}{rho:>9.3f}{published_text:>10}{gap_text:>9}{tau:>9.3f}  {reference}")


def _column(table, name: str) -> np.ndarray:
    """Any numeric column of the ground-truth table, by NB201 index."""
    opener = gzip.open if str(table).endswith(".gz") else open
    with opener(table, "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    out = np.full(len(rows), np.nan)
    for row in rows:
        out[int(row["index"])] = float(row[name]) if row[name] else np.nan
    return out


if __name__ == "__main__":
    main()
