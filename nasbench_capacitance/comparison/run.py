"""``nbcap compare``: gather the scores, compute every statistic, run the searches, write the report.

``OUT/report.md`` (its top: one line per compared metric), the CSVs behind every table
(``correlations.csv``, ``paired.csv``, ``search_quality.csv``, ``information.csv``, ``search/summary.csv``,
``scores.csv``) and the figures. The scores and the searches resume; the statistics are recomputed.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from .. import plots
from ..config import StudyConfig
from ..evaluation import ablation
from ..metrics.imported import ImportedScores
from ..outputs import write_rows
from ..store.results import KIND_NAMES, folder_kind
from ..whole_space.report import IMAGES_NOTE
from . import job, searches

FIRST_TARGET = "c10valid_xvalid_200_v10"


def compare(
    names: Sequence[str],
    cfg: StudyConfig,
    out: str | Path,
    cells: int | None = None,
    whole_space: bool = False,
    imported: Sequence[ImportedScores] = (),
    costs: dict[str, float] | None = None,
    seeds: int = searches.SEEDS,
    stream: TextIO | None = None,
    baselines: str = "auto",
) -> Path:
    """Compare ``names`` with the built-in training-free metrics (``baselines``: ``auto``, ``all``, ``table``
    or a comma-separated list; see :func:`job.check_baselines`); the report goes to ``out/report.md``."""
    stream = stream if stream is not None else sys.stderr
    chosen = job.check_metrics(names)
    chosen_baselines = job.check_baselines(baselines)
    job.check_cells(cells, whole_space)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    found = folder_kind(out)
    if found is not None:
        raise job.CompareError(f"{out} holds {KIND_NAMES[found]}: a comparison writes into a folder of its own")
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    comp = job.gather(chosen, cfg, job.the_cells(cells, whole_space), out, imported, costs, stream, chosen_baselines)
    seconds["scores"] = time.perf_counter() - start
    truths = job.targets()
    steps = [
        ("correlations", lambda: job.correlation_rows(comp, truths)),
        ("paired", lambda: job.paired_rows(comp, truths)),
        ("search_quality", lambda: job.search_quality_rows(comp, truths)),
        ("information", lambda: job.information_rows(comp, truths[0].accuracies(comp.cells))),
    ]
    results: dict[str, list[dict]] = {}
    for name, step in steps:
        start = time.perf_counter()
        results[name] = step()
        seconds[name] = time.perf_counter() - start
        if results[name]:
            write_rows(out / f"{name}.csv", results[name], digits=4)
    table = job.write_scores(comp, out / "scores.csv")
    start = time.perf_counter()
    best = job.best_baseline(results["correlations"], comp, FIRST_TARGET)
    results["searches"] = searches.search_rows(comp, best, table, out, seeds, stream)
    seconds["searches"] = time.perf_counter() - start
    start = time.perf_counter()
    _figures(comp, results, truths[0].accuracies(comp.cells), out)
    seconds["figures"] = time.perf_counter() - start
    (out / "report.md").write_text(report(comp, results, best, seconds, seeds))
    stream.write((out / "report.md").read_text().split("\n## ")[0] + "\n")
    return out


def _figures(comp: job.Comparison, results: dict[str, list[dict]], truth: np.ndarray, out: Path) -> None:
    compared = {n: comp.columns[n] for n in comp.names}
    plots.space_hexbin(out / "compare_scatter.png", compared, truth, FIRST_TARGET, IMAGES_NOTE)
    plots.tau_bars(out / "compare_tau.png", results["correlations"], FIRST_TARGET, comp.names)
    plots.space_top_k(out / "compare_topk.png", {n: comp.columns[n] for n in comp.everything}, truth, FIRST_TARGET)


def _f(value: object, signed: bool = False) -> str:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(x) else f"{x:+.3f}" if signed else f"{x:.3f}"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    return (
        "\n".join(
            ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
            + ["| " + " | ".join(r) + " |" for r in rows]
        )
        + "\n"
    )


def _baselines_described(comp: job.Comparison) -> str:
    every = job.baselines()
    chosen = [b for b in comp.baselines if b in every]
    aggregates = [b for b in comp.baselines if b not in every]
    if len(chosen) == len(every):
        text = f"every built-in training-free metric ({len(every)})"
    else:
        text = f"{len(chosen)} of the {len(every)} built-in training-free metrics (--baselines)"
    return text + (f" and the rank aggregates over them ({', '.join(aggregates)})" if aggregates else "")


def report(
    comp: job.Comparison, results: dict[str, list[dict]], best: str, seconds: dict[str, float], seeds: int
) -> str:
    """The markdown report: the answer first, then every table behind it."""
    rows = results["correlations"]
    lines = [
        f"# nbcap compare: {', '.join(comp.names)}",
        "",
        f"On {comp.described}; baselines: {_baselines_described(comp)}; "
        f"Kendall τ against `{FIRST_TARGET}` with a 95% bootstrap interval over the cells ({job.RESAMPLES} resamples).",
        "",
        *(f"- {job.summary_line(comp, rows, results['paired'], name, FIRST_TARGET)}" for name in comp.names),
        "",
        "Where the scores come from: " + "; ".join(f"`{n}` {comp.sources.get(n, '')}" for n in comp.names) + ".",
        "The proxies read CIFAR-10 images for every target.",
        "",
    ]
    targets = list(dict.fromkeys(r["target"] for r in rows))
    by = {(r["metric"], r["target"], r["subset"]): r for r in rows}
    for target in targets:
        order = sorted(
            comp.everything, key=lambda m: -np.nan_to_num(float(by[(m, target, "all")]["kendall_tau"] or "nan"), nan=-2)
        )
        body = []
        for m in order:
            r, nd = by[(m, target, "all")], by[(m, target, "non-degenerate")]
            name = f"**`{m}`**" if m in comp.names else f"`{m}`"
            body.append(
                [name, str(r["n"]), f"{_f(r['kendall_tau'])} [{_f(r['kendall_low'])}, {_f(r['kendall_high'])}]"]
                + [f"{_f(r['spearman_rho'])} [{_f(r['spearman_low'])}, {_f(r['spearman_high'])}]"]
                + [_f(r["kendall_tau_given_params"]) or "—", _f(nd["kendall_tau"]), str(r["place"])]
            )
        lines += [
            f"## `{target}`",
            "",
            _table(["metric", "n", "τ [95%]", "ρ [95%]", "τ \\| params", "τ > 10.5%", "place"], body),
        ]
    paired = [p for p in results["paired"] if p["target"] == FIRST_TARGET]
    lines += [
        f"## Paired Δτ against every baseline (`{FIRST_TARGET}`; every target in `paired.csv`)",
        "",
        _table(
            ["metric", "baseline", "Δτ [95% paired]"],
            [
                [
                    f"`{p['metric']}`",
                    f"`{p['baseline']}`",
                    f"{_f(p['delta_tau'], True)} [{_f(p['low'], True)}, {_f(p['high'], True)}]",
                ]
                for p in paired
            ],
        ),
    ]
    quality = sorted(
        (q for q in results["search_quality"] if q["target"] == FIRST_TARGET), key=lambda q: -float(q["top10"])
    )
    lines += [
        f"## What a search trusting it gets (`{FIRST_TARGET}`)",
        "",
        "The accuracy of the top cell, the mean of the top 10 and 100, the share of the true top 1% and 5% found "
        "in the metric's own.",
        "",
        _table(
            ["metric", "top 1", "top 10", "top 100", "recall 1%", "recall 5%"],
            [
                [f"**`{q['metric']}`**" if q["metric"] in comp.names else q["metric"]]
                + [f"{float(q[k]):.2f}" for k in ("top1", "top10", "top100")]
                + [_f(q["recall_top1pct"]), _f(q["recall_top5pct"])]
                for q in quality
            ],
        ),
    ]
    information = results["information"]
    if information:
        lines += [
            "## Does it add information?",
            "",
            "A calibrated model (Bayesian ridge, random forest) over the built-in free features, fitted on n cells' "
            "accuracy and scored on the others, with and without the metric; the same draws for both, so Δτ is "
            "paired (95% bootstrap over the cells).",
            "",
            _table(
                ["metric", "model", "calibration cells", "free", "free + metric", "Δτ [95%]"],
                _information_rows(information),
            ),
        ]
    else:
        smallest = min(job.CALIBRATION_SIZES) + ablation.MIN_HELD_OUT
        lines += ["## Does it add information?", "", f"Not measured: it needs at least {smallest} cells.", ""]
    lines += _search_section(results["searches"], comp, best, seeds)
    lines += [
        "## Figures",
        "",
        "![the metric against the accuracy](compare_scatter.png)",
        "![τ of every metric](compare_tau.png)",
        "![the k best cells](compare_topk.png)",
        "![searches](search/search_cifar10.png)",
        "",
        "Seconds this comparison took: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()) + ".",
        "",
    ]
    return "\n".join(lines)


def _information_rows(rows: list[dict]) -> list[list[str]]:
    by = {(r["metric"], r["model"], r["calibration"], r["features"]): r for r in rows}
    out = []
    for (metric, model, size, features), r in by.items():
        if features != "free+metric − free":
            continue
        free, both = by[(metric, model, size, "free")], by[(metric, model, size, "free+metric")]
        out.append(
            [
                f"`{metric}`",
                model,
                str(size),
                _f(free["tau"]),
                _f(both["tau"]),
                f"{_f(r['tau'], True)} [{_f(r['low'], True)}, {_f(r['high'], True)}]",
            ]
        )
    return out


def _search_section(rows: list[dict], comp: job.Comparison, best: str, seeds: int) -> list[str]:
    budgets = sorted({float(r["budget"]) for r in rows})
    cells: dict[str, dict[float, str]] = {}
    for r in rows:
        mean, std = (float(v) if v not in ("", None) else math.nan for v in (r["mean"], r["std"]))
        text = f"{mean:.2f}" + ("" if math.isnan(std) else f" ± {std:.2f}")
        text = "— (the proxy costs more)" if math.isnan(mean) else text  # no search found a cell in time
        cells.setdefault(r["label"], {})[float(r["budget"])] = text
    where = (
        "the whole space"
        if comp.whole_space
        else f"the comparison's {len(comp.cells):,} cells as the pool (moves needs the whole space)"
    )
    return [
        "## Search efficiency on the simulated clock (CIFAR-10)",
        "",
        f"{seeds} seeds per search on {where}; the returned cell's 200-epoch test accuracy, mean ± sd. "
        f"Beside the metric: the best built-in by τ here (`{best}`), REA and random search.",
        "",
        _table(
            ["search", *(f"{b:g} s" for b in budgets)],
            [[f"`{label}`", *(by.get(b, "") for b in budgets)] for label, by in cells.items()],
        ),
    ]
