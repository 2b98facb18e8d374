"""The standard-setting table (NB201's own network at 32x32, batch 64) against the published whole-space
numbers, NASWOT's N = 10 selection, and the quick table on the same cells.

Usage: NBCAP_DATA=../shared python experiments/standard_table.py [--table FILE] [--out docs/results/data]
           [--bootstrap 200] [--seeds 500] [--batch128 FILE]

``--table`` is a ``space.csv`` of ``nbcap space --preset standard --sample 1000`` (default: the shipped
standard table). Writes the summaries docs/results/standard.md is rendered from:

- ``standard_correlations.csv``: Kendall τ and Spearman ρ with 95% bootstrap intervals of every metric
  and aggregate on the cells it was scored on, against each 200-epoch target;
- ``standard_vs_published.csv``: each published whole-space number beside ours on the same target and
  statistic, with the gap;
- ``standard_naswot.csv``: NASWOT's selection (10 random cells of the sample, the best by ``nwot``
  returned; its CIFAR-10 test accuracy), with the standard and with the quick table's ``nwot`` on the
  same draws, beside the published 92.96 ± 0.81;
- ``standard_vs_quick.csv``: per metric, Spearman ρ between the two tables on the same cells and each
  one's τ against CIFAR-10 test accuracy, so a user knows when the cheap table is enough;
- ``standard_batch.csv`` (with ``--batch128 FILE``, a ``space.csv`` of the same sample's first cells at
  ``--set proxies.batch_size=128``): per metric, Spearman ρ between the two batches on the same cells and
  each one's τ against CIFAR-10 test accuracy, for the proxies whose own scripts use 128;
- ``standard_seconds.csv``: per metric, the median and mean seconds per cell on the machine that made the
  table (a metric sharing a pass with others holds its share of it).
"""

from __future__ import annotations

import argparse
import functools
import math
from pathlib import Path

import numpy as np

from nasbench_capacitance import metrics, paths
from nasbench_capacitance.data.ground_truth import GroundTruth
from nasbench_capacitance.evaluation import ranking
from nasbench_capacitance.metrics.aggregates import aggregate_columns
from nasbench_capacitance.nb201.space import NUM_ARCHS
from nasbench_capacitance.outputs import write_rows
from nasbench_capacitance.whole_space import report
from nasbench_capacitance.whole_space.table import SHIPPED, reference_table, shipped_path

TARGETS = {"cifar10": "c10_test_200", "cifar100": "c100_test_200", "imagenet16": "in16_test_200"}
ABDELFATTAH = "Abdelfattah et al. 2021, Table 2"
VKDNW_TABLE = "VKDNW (CVPR 2025) Table 1"
PUBLISHED_C10 = "c10valid_oritest_200_v10"  # Abdelfattah et al.'s CIFAR-10 column: the cifar10-valid run's test split
# (metric, dataset, statistic, published value, source, the target it was measured on)
PUBLISHED: list[tuple[str, str, str, float, str, str]] = [
    ("az_nas", "cifar10", "tau", 0.741, "AZ-NAS repository, NB201/tss_general.ipynb", "c10_test_200"),
    ("az_nas", "cifar10", "rho", 0.913, "AZ-NAS repository, NB201/tss_general.ipynb", "c10_test_200"),
    ("zico", "cifar10", "tau", 0.607, VKDNW_TABLE, "c10_test_200"),
    ("swap_reg", "cifar100", "rho", 0.90, "SWAP (ICLR 2024), with its regularisation", "c100_test_200"),
    *[(m, d, "tau", v, VKDNW_TABLE, TARGETS[d]) for m, values in {
        "az_nas": (0.712, 0.696, 0.673), "vkdnw_agg": (0.750, 0.753, 0.743),
        "vkdnw": (0.618, 0.634, 0.622), "te_nas": (0.536, 0.537, 0.523),
    }.items() for d, v in zip(TARGETS, values)],
    *[("meco", d, "rho", v, "MeCo (NeurIPS 2023)", TARGETS[d]) for d, v in zip(TARGETS, (0.89, 0.88, 0.85))],
    *[(m, d, "rho", v, ABDELFATTAH, c) for m, values in {
        "grad_norm": (0.58, 0.64, 0.58), "snip": (0.58, 0.63, 0.58), "grasp": (0.48, 0.54, 0.56),
        "fisher": (0.36, 0.39, 0.33), "synflow": (0.74, 0.76, 0.75), "jacob_cov": (0.73, 0.71, 0.71),
    }.items() for (d, c), v in zip({**TARGETS, "cifar10": PUBLISHED_C10}.items(), values)],
]  # fmt: skip
NASWOT_PUBLISHED = (92.96, 0.81)  # Mellor et al. 2021, Table 2: N = 10, CIFAR-10 test accuracy


def with_aggregates(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``columns`` and every aggregate whose components they hold, ranked over the rows where all its
    components have a value (NaN elsewhere)."""
    return {**columns, **aggregate_columns(columns, {m: np.isfinite(v) for m, v in columns.items()})}


def columns_of(table: dict[str, np.ndarray], cells: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """The table's cells (default: those with a parameter count, the sample) and every metric column on
    them, with the aggregates over those cells."""
    cells = np.flatnonzero(np.isfinite(table["params"])) if cells is None else cells
    names = [m for m in metrics.available("arch") + metrics.available("init") if m in table]
    return cells, with_aggregates({m: table[m][cells] for m in names})


def correlation_rows(cells: np.ndarray, columns: dict[str, np.ndarray], resamples: int) -> list[dict]:
    """τ and ρ with intervals per metric and target, each metric on the cells it has a value for."""
    table = paths.ground_truth_table()
    targets = [*report.standard_targets(table), GroundTruth.from_table(table, target=PUBLISHED_C10)]
    rows = []
    for name, values in columns.items():
        have = np.isfinite(values)
        rows += report.correlation_rows({name: values[have]}, targets, [int(i) for i in cells[have]], resamples)
    return [r for r in rows if r["subset"] == "all"]


@functools.cache
def _truth(target: str) -> np.ndarray:
    return GroundTruth.from_table(paths.ground_truth_table(), target=target).accuracies(np.arange(NUM_ARCHS))


def statistic(values: np.ndarray, cells: np.ndarray, target: str, name: str) -> float:
    """Kendall τ (``tau``) or Spearman ρ (``rho``) of ``values`` on ``cells`` against ``target``."""
    truth = _truth(target)[cells]
    have = np.isfinite(values) & np.isfinite(truth)
    if have.sum() < 3:
        return math.nan
    return (ranking.kendall_tau if name == "tau" else ranking.spearman_rho)(values[have], truth[have])


def published_rows(
    correlations: list[dict], cells: np.ndarray, quick_sample: dict[str, np.ndarray], quick: dict[str, np.ndarray]
) -> list[dict]:
    """Each published number beside ours, and beside the quick table's on the same cells and on all the
    cells it holds: a gap the quick table shares on the same cells but not over all cells is the sample's."""
    by = {(r["metric"], r["target"]): r for r in correlations}
    quick_cells, quick_all = columns_of(quick)
    rows = []
    for metric, dataset, statistic_name, value, source, target in PUBLISHED:
        ours = by.get((metric, target))
        if ours is None:
            continue
        key, low = ("kendall_tau", "kendall") if statistic_name == "tau" else ("spearman_rho", "spearman")
        rows.append(
            {
                "metric": metric,
                "dataset": dataset,
                "statistic": statistic_name,
                "target": target,
                "published": value,
                "source": source,
                "ours": ours[key],
                "ci_low": ours[f"{low}_low"],
                "ci_high": ours[f"{low}_high"],
                "n": ours["n"],
                "gap": ours[key] - value,
                "quick_same_cells": statistic(quick_sample[metric], cells, target, statistic_name)
                if metric in quick_sample
                else math.nan,
                "quick_all_cells": statistic(quick_all[metric], quick_cells, target, statistic_name)
                if metric in quick_all
                else math.nan,
                "quick_all_n": int(np.isfinite(quick_all[metric]).sum()) if metric in quick_all else 0,
            }
        )
    return rows


def naswot_rows(cells: np.ndarray, standard: np.ndarray, quick: np.ndarray, seeds: int) -> list[dict]:
    """NASWOT's N = 10 selection on the same random draws of the sample, with each table's nwot."""
    truth = GroundTruth.from_table(paths.ground_truth_table(), target="c10_test_200").accuracies(cells)
    rng = np.random.default_rng(0)
    draws = np.array([rng.choice(len(cells), 10, replace=False) for _ in range(seeds)])
    rows = []
    for label, scores in (("standard", standard), ("quick", quick), ("random", np.zeros_like(standard))):
        if label == "random":
            picked = draws[:, 0]  # no signal: the first cell drawn
        else:
            picked = draws[np.arange(seeds), np.argmax(scores[draws], axis=1)]
        values = truth[picked]
        rows.append(
            {
                "nwot": label,
                "seeds": seeds,
                "mean": values.mean(),
                "std": values.std(ddof=1),
                "published_mean": NASWOT_PUBLISHED[0],
                "published_std": NASWOT_PUBLISHED[1],
            }
        )
    return rows


def quick_rows(cells: np.ndarray, standard: dict[str, np.ndarray], quick: dict[str, np.ndarray]) -> list[dict]:
    """Per metric on the same cells: how alike the two tables rank, and each one's τ."""
    truth = GroundTruth.from_table(paths.ground_truth_table(), target="c10_test_200").accuracies(cells)
    rows = []
    for name, values in standard.items():
        if name not in quick or metrics.get(name).kind == "arch":
            continue
        have = np.isfinite(values) & np.isfinite(quick[name])
        rows.append(
            {
                "metric": name,
                "n": int(have.sum()),
                "rho_quick_standard": ranking.spearman_rho(quick[name][have], values[have]),
                "tau_standard": ranking.kendall_tau(values[have], truth[have]),
                "tau_quick": ranking.kendall_tau(quick[name][have], truth[have]),
            }
        )
    return rows


def batch_rows(standard: dict[str, np.ndarray], larger: dict[str, np.ndarray]) -> list[dict]:
    """Per metric the larger batch scored: how alike the two batches rank the cells both hold, and each τ."""
    cells = np.flatnonzero(np.isfinite(larger["index"]))
    truth = _truth("c10_test_200")[cells]
    rows = []
    for name in (m for m in metrics.available("init") if m in larger and m in standard):
        a, b = standard[name][cells], larger[name][cells]
        have = np.isfinite(a) & np.isfinite(b)
        rows.append(
            {
                "metric": name,
                "n": int(have.sum()),
                "rho_64_128": ranking.spearman_rho(a[have], b[have]),
                "tau_64": ranking.kendall_tau(a[have], truth[have]),
                "tau_128": ranking.kendall_tau(b[have], truth[have]),
            }
        )
    return rows


def seconds_rows(table: dict[str, np.ndarray], cells: np.ndarray) -> list[dict]:
    """Per metric (and the whole cell), its seconds on the table's cells; the median reads through the
    moments another job shared the cores."""
    names = [c.removeprefix("time_") for c in table if c.startswith("time_")]
    rows = []
    for name in names:
        values = table[f"time_{name}"][cells]
        values = values[np.isfinite(values)]
        if len(values):
            rows.append({"metric": name, "n": len(values), "median": np.median(values), "mean": values.mean()})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--table", help="the standard space.csv (default: the shipped standard table)")
    p.add_argument("--out", default="docs/results/data")
    p.add_argument("--bootstrap", type=int, default=report.DEFAULT_BOOTSTRAP)
    p.add_argument("--seeds", type=int, default=500, help="NASWOT selections")
    p.add_argument("--batch128", metavar="FILE", help="a space.csv of the sample's first cells at batch 128")
    args = p.parse_args()
    table = reference_table(args.table or shipped_path(SHIPPED["standard"]))
    cells, columns = columns_of(table)
    correlations = correlation_rows(cells, columns, args.bootstrap)
    quick_table = reference_table(shipped_path(SHIPPED["quick"]))
    _, quick = columns_of(quick_table, cells)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_rows(out / "standard_correlations.csv", correlations, digits=4)
    write_rows(out / "standard_vs_published.csv", published_rows(correlations, cells, quick, quick_table), digits=4)
    write_rows(out / "standard_naswot.csv", naswot_rows(cells, columns["nwot"], quick["nwot"], args.seeds), digits=4)
    write_rows(out / "standard_vs_quick.csv", quick_rows(cells, columns, quick), digits=4)
    write_rows(out / "standard_seconds.csv", seconds_rows(table, cells), digits=4)
    if args.batch128:
        write_rows(out / "standard_batch.csv", batch_rows(table, reference_table(args.batch128)), digits=4)
    print(f"{len(cells)} cells; wrote standard_*.csv to {out}")


if __name__ == "__main__":
    main()
