"""A whole-space scoring's outputs: ``space.csv``, correlations against every 200-epoch target, what a
search would get from each metric, the figures and the printed table, all from ``results.db`` alone.

The proxies read CIFAR-10 images whatever the target: CIFAR-100 and ImageNet16-120 correlations say
how well a CIFAR-10 score transfers, and every output says so.
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from .. import metrics, paths
from ..data.ground_truth import STANDARD_TARGETS, GroundTruth, GroundTruthError
from ..evaluation import ranking
from ..metrics.aggregates import aggregate_columns
from ..outputs import to_json, write_rows
from ..store.records import Record
from ..store.results import results_file
from .scoring import representatives, space_records

DEFAULT_BOOTSTRAP = 200  # at n = 15,625 the 95% interval is a few thousandths wide; 200 resamples place it
IMAGES_NOTE = "the proxies read CIFAR-10 images for every target"


def standard_targets(table: Path) -> list[GroundTruth]:
    """The four 200-epoch targets (CIFAR-10 valid and test, CIFAR-100, ImageNet16-120) that ``table`` holds.

    A table imported from the official file names the CIFAR-10 validation column without ``_v10``.
    """
    found = []
    for target in STANDARD_TARGETS:
        for column in (target, target.removesuffix("_v10")):
            try:
                found.append(GroundTruth.from_table(table, target=column))
                break
            except GroundTruthError as exc:
                if "not a column" not in str(exc):
                    raise
    if not found:
        raise GroundTruthError(f"{table} holds none of the 200-epoch targets {', '.join(STANDARD_TARGETS)}")
    return found


def score_columns(records: list[Record]) -> dict[str, np.ndarray]:
    """{metric: scores aligned with ``records``}, in registry order, with every aggregate whose components
    are there (ranked over the cells that scored all of them)."""
    present = {m for r in records for m in r["metrics"]}
    names = [m for m in metrics.REGISTRY if m in present]
    columns = {m: np.array([r["metrics"].get(m, {}).get("0", math.nan) for r in records], dtype=float) for m in names}
    scored = {m: np.array([m in r["metrics"] for r in records]) for m in names}
    return {**columns, **aggregate_columns(columns, scored)}


def write_space_csv(path: Path, records: list[Record], columns: dict[str, np.ndarray]) -> Path:
    """One row per cell: index, string, class representative, every metric, seconds per metric, copies."""
    reps = representatives()
    timed = [m for m in columns if any(f"zc_{m}" in r["timings"] for r in records)]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                "index",
                "arch_str",
                "iso_class",
                *columns,
                *(f"time_{m}" for m in timed),
                "time_wall",
                "copied_from",
                "status",
                "reason",
            ]
        )
        for n, r in enumerate(records):
            values = ["" if math.isnan(columns[m][n]) else f"{columns[m][n]:.9g}" for m in columns]
            times = [f"{r['timings'][f'zc_{m}']:.4g}" if f"zc_{m}" in r["timings"] else "" for m in timed]
            writer.writerow(
                [
                    r["index"],
                    r["arch_str"],
                    int(reps[r["index"]]),
                    *values,
                    *times,
                    f"{r['timings'].get('wall', math.nan):.4g}",
                    r["extra"].get("copied_from", ""),
                    r["status"],
                    r["reason"] or "",
                ]
            )
    return path


def correlation_rows(
    columns: dict[str, np.ndarray], targets: list[GroundTruth], indices: list[int], resamples: int
) -> list[dict]:
    """Every statistic ``nbcap report`` gives, per metric x target x subset (all cells / above 10.5%)."""
    rows = []
    for gt in targets:
        truth = gt.accuracies(indices)
        keep = ranking.non_degenerate(truth)
        params = columns.get("params")
        for name, scores in columns.items():
            for subset, mask in (("all", np.ones_like(keep)), ("non-degenerate", keep)):
                c = ranking.correlate(
                    scores[mask], truth[mask], None if params is None else params[mask], resamples=resamples
                )
                rows.append(
                    {
                        "metric": name,
                        "kind": metrics.get(name).kind,
                        "target": gt.target.column,
                        "subset": subset,
                        **c.as_dict(),
                    }
                )
    return rows


def on_every_cell(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The metrics scored on (nearly) every cell the best-covered one is: what a search view compares. A
    metric scored on a sample of them ranks only its sample's top, not the table's."""
    coverage = {m: int(np.isfinite(v).sum()) for m, v in columns.items()}
    most = max(coverage.values(), default=0)
    return {m: v for m, v in columns.items() if coverage[m] >= 0.99 * most}


def search_rows(columns: dict[str, np.ndarray], targets: list[GroundTruth], indices: list[int]) -> list[dict]:
    """What a search trusting each metric would get, per target (oracle and random rows for reference)."""
    rows = []
    for gt in targets:
        truth = gt.accuracies(indices)
        references = {"(oracle)": truth, "(random)": np.zeros_like(truth)}  # a constant score: ties everywhere
        for name, scores in {**columns, **references}.items():
            rows.append({"metric": name, "target": gt.target.column, **ranking.search_quality(scores, truth).as_dict()})
    return rows


def format_space_table(
    correlations: list[dict], searches: list[dict], statuses: dict[str, int], copied: list[str]
) -> str:
    """Kendall τ / Spearman ρ per metric and target, then the search view on the first target (≤ 100 columns)."""
    targets = list(dict.fromkeys(r["target"] for r in correlations))
    by = {(r["metric"], r["target"]): r for r in correlations if r["subset"] == "all"}
    names = list(dict.fromkeys(r["metric"] for r in correlations))
    first = targets[0]
    names.sort(key=lambda m: -np.nan_to_num(by[(m, first)]["kendall_tau"], nan=-2))
    fmt = lambda v: "   nan" if v is None or math.isnan(v) else f"{v:6.3f}"  # noqa: E731
    n = max(by[(m, first)]["n"] for m in names)
    lines = [
        "cells: " + ", ".join(f"{k} {s}" for s, k in sorted(statuses.items())) + f"; {n} with a score and a target",
        "Kendall tau / Spearman rho over all cells; " + IMAGES_NOTE,
        f"{'metric':<11}" + "".join(f"{t[:19]:>21}" for t in targets),
    ]
    for m in names:
        lines.append(
            f"{m:<11}"
            + "".join(
                f"{fmt(by[(m, t)]['kendall_tau'])} / {fmt(by[(m, t)]['spearman_rho'])}      " for t in targets
            ).rstrip()
        )
    lines += [
        "",
        f"What a search trusting each metric gets ({first}): accuracy of its top cell,",
        "mean of its top 10 / 100, recall of the true top 1% / 5%, and the rank it gives the best cell",
        f"{'metric':<11}{'top1':>7}{'top10':>7}{'top100':>7}{'rec1%':>7}{'rec5%':>7}{'rank of best':>14}",
    ]
    for r in sorted((r for r in searches if r["target"] == first), key=lambda r: -np.nan_to_num(r["top10"], nan=-1)):
        lines.append(
            f"{r['metric']:<11}{r['top1']:7.2f}{r['top10']:7.2f}{r['top100']:7.2f}{r['recall_top1pct']:7.3f}"
            f"{r['recall_top5pct']:7.3f}{r['rank_of_best']:14.1f}"
        )
    if copied:
        lines.append(f"copied within isomorphism classes from each class's lowest index: {', '.join(copied)}")
    aggregated = [m for m in names if metrics.get(m).kind == "aggregate"]
    for m in aggregated:
        lines.append(f"{m}: ranks of its components over the {by[(m, first)]['n']} cells that hold them all")
    lines.append("higher score = better for every metric; every target and subset is in space_correlations.csv")
    return "\n".join(lines)


def write_space_report(
    out_dir: str | Path,
    table: str | Path | None = None,
    resamples: int = DEFAULT_BOOTSTRAP,
    figures: bool = True,
    stream: TextIO | None = None,
) -> list[dict]:
    """``space.csv``, ``space_correlations.csv/.json``, ``space_search.csv``, the figures and the table."""
    stream = stream if stream is not None else sys.stdout
    out = Path(out_dir)
    db = results_file(out)
    if not db.is_file():
        raise FileNotFoundError(f"no results store at {db}")
    run, records = space_records(db)
    if not records:
        raise LookupError(f"{db} holds no cells yet")
    table = Path(table) if table else paths.ground_truth_table()
    targets = standard_targets(table)
    columns = score_columns(records)
    indices = [r["index"] for r in records]
    write_space_csv(out / "space.csv", records, columns)
    correlations = correlation_rows(columns, targets, indices, resamples)
    searches = search_rows(on_every_cell(columns), targets, indices)
    write_rows(out / "space_correlations.csv", correlations)
    write_rows(out / "space_search.csv", searches)
    copied = sorted({m for r in records for m in r["extra"].get("copied", [])})
    statuses: dict[str, int] = {}
    for r in records:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    aggregated = [m for m in columns if metrics.get(m).kind == "aggregate"]
    meta = {
        "study": run["config"],
        "provenance": run["provenance"],
        "note": IMAGES_NOTE,
        "aggregates": "; ".join(
            f"{m} ranks its components over the {int(np.isfinite(columns[m]).sum())} cells that hold them all"
            for m in aggregated
        ),
        "copied": copied,
        "ground_truth": [gt.provenance() for gt in targets],
        "statuses": statuses,
        "bootstrap": resamples,
    }
    (out / "space_correlations.json").write_text(to_json({"provenance": meta, "correlations": correlations}, indent=1))
    if figures:
        from .. import plots

        truth = {gt.target.column: gt.accuracies(indices) for gt in targets}
        plots.write_space(out, columns, truth, correlations, IMAGES_NOTE)
    stream.write(format_space_table(correlations, searches, statuses, copied) + "\n")
    return correlations
