"""Two whole-space tables of the same setting, metric by metric: how alike their values are and how far
each metric's Kendall τ moves between them (the check a regenerated table passes before it ships).

Usage: NBCAP_DATA=../shared python experiments/tables_agree.py OLD.csv[.gz] NEW.csv[.gz] [--out FILE.csv]
           [--target c10valid_xvalid_200_v10]

Per metric both tables hold: the cells both score, the share of cells whose values agree to 1e-6
(relative), the largest relative difference, Spearman ρ between the two tables, each table's τ
against the target and the difference.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from nasbench_capacitance import metrics, paths
from nasbench_capacitance.data.ground_truth import GroundTruth
from nasbench_capacitance.evaluation import ranking
from nasbench_capacitance.nb201 import space
from nasbench_capacitance.outputs import write_rows
from nasbench_capacitance.whole_space.table import reference_table


def agreement_rows(old: dict[str, np.ndarray], new: dict[str, np.ndarray], target: str) -> list[dict]:
    truth = GroundTruth.from_table(paths.ground_truth_table(), target=target).accuracies(range(space.NUM_ARCHS))
    rows = []
    for name in metrics.available("arch") + metrics.available("init"):
        if name not in old or name not in new:
            continue
        both = np.isfinite(old[name]) & np.isfinite(new[name])
        a, b = old[name][both], new[name][both]
        relative = np.abs(a - b) / np.maximum(np.abs(a), 1e-12)
        tau_old, tau_new = ranking.kendall_tau(a, truth[both]), ranking.kendall_tau(b, truth[both])
        rows.append(
            {
                "metric": name,
                "cells": int(both.sum()),
                "equal_share": float(np.mean(relative <= 1e-6)),
                "max_relative_difference": float(relative.max()),
                "rho_between_tables": ranking.spearman_rho(a, b),
                "tau_old": tau_old,
                "tau_new": tau_new,
                "tau_change": tau_new - tau_old,
            }
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--target", default="c10valid_xvalid_200_v10")
    p.add_argument("--out", help="write the rows to this CSV")
    args = p.parse_args()
    rows = agreement_rows(reference_table(args.old), reference_table(args.new), args.target)
    print(f"{'metric':<18}{'cells':>7}{'equal':>8}{'max rel':>10}{'rho':>8}{'tau old':>9}{'tau new':>9}{'change':>9}")
    for r in rows:
        print(
            f"{r['metric']:<18}{r['cells']:>7}{r['equal_share']:>8.1%}{r['max_relative_difference']:>10.1e}"
            f"{r['rho_between_tables']:>8.4f}{r['tau_old']:>9.4f}{r['tau_new']:>9.4f}{r['tau_change']:>+9.4f}"
        )
    if args.out:
        write_rows(Path(args.out), rows, digits=6)


if __name__ == "__main__":
    main()
