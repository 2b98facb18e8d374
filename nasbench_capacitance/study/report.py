"""Join stored records with ground truth: the correlation table, its CSV/JSON, the figures, the printout.

Everything here reads the study directory alone (``results.db``), so ``nbcap report DIR`` rebuilds
every output of ``nbcap run`` without training anything.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from .. import config, metrics, paths
from ..data.ground_truth import GroundTruth
from ..evaluation import ranking
from ..metrics import calibrated
from ..outputs import to_json, write_rows
from ..store import identity
from ..store.records import Record
from ..store.results import ResultStore, load_records, results_file

SUBSETS = ("all", "non-degenerate")


def ground_truth_for(cfg: config.StudyConfig) -> GroundTruth:
    table = cfg.ground_truth.table or paths.ground_truth_table(cfg.data.data_root)
    return GroundTruth.from_table(table, target=cfg.ground_truth.target)


def score_matrix(records: list[Record]) -> dict[tuple[str, str], np.ndarray]:
    """{(metric, epoch): scores aligned with ``records``} (NaN where a record has no value)."""
    keys = sorted(
        {(m, e) for r in records for m, by_epoch in r["metrics"].items() for e in by_epoch},
        key=lambda k: (k[0], float(k[1])),
    )
    return {k: np.array([r["metrics"].get(k[0], {}).get(k[1], math.nan) for r in records], dtype=float) for k in keys}


def _kind(metric: str) -> str:
    return metrics.REGISTRY[metric].kind if metric in metrics.REGISTRY else "unknown"


def correlation_rows(
    records: list[Record],
    truth: np.ndarray,
    resamples: int,
    degenerate_below: float,
    calibration: float = 0.0,
    seed: int = 0,
) -> list[dict]:
    """Rank statistics of every (metric, budget), over all architectures and the non-degenerate ones.

    Calibrated predictors are fitted on a seeded ``calibration`` share of the sample and scored on the
    rest only; their rows carry the calibration size (0 for every other metric).
    """
    params = np.array([r["metrics"].get("params", {}).get("0", math.nan) for r in records], dtype=float)
    keep = ranking.non_degenerate(truth, degenerate_below)
    columns = [(metric, epoch, scores, 0) for (metric, epoch), scores in score_matrix(records).items()]
    held_out = calibrated.held_out_scores(records, truth, calibration, seed) if calibration > 0 else {}
    columns += [(metric, epoch, scores, size) for (metric, epoch), (scores, size) in held_out.items()]
    rows = []
    for metric, epoch, scores, size in columns:
        for subset in SUBSETS:
            mask = keep if subset == "non-degenerate" else np.ones_like(keep)
            c = ranking.correlate(scores[mask], truth[mask], params[mask], resamples=resamples)
            rows.append(
                {
                    "metric": metric,
                    "kind": _kind(metric),
                    "epoch": epoch,
                    "subset": subset,
                    "calibration": size,
                    **c.as_dict(),
                }
            )
    return rows


def _final_rows(rows: list[dict]) -> list[dict]:
    """Per metric, the row of its largest epoch budget (all architectures), sorted by τ."""
    final: dict[str, dict] = {}
    for row in rows:
        if row["subset"] == "all" and (
            row["metric"] not in final or float(row["epoch"]) > float(final[row["metric"]]["epoch"])
        ):
            final[row["metric"]] = row
    return sorted(final.values(), key=lambda r: -np.nan_to_num(r["kendall_tau"], nan=-2))


def format_table(rows: list[dict], target_label: str, statuses: dict[str, int]) -> str:
    """The printed summary, one row per metric at its largest budget, sorted by τ; at most 100 columns wide."""
    by_key = {(r["metric"], r["epoch"], r["subset"]): r for r in rows}
    fmt = lambda v: "   nan" if v is None or math.isnan(v) else f"{v:6.3f}"  # noqa: E731
    lines = [
        f"ground truth: {target_label}",
        "architectures: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())),
        f"{'metric':<16}{'kind':<6}{'epoch':>5} {'n':>4} {'tau':>6} {'95% CI':>15} {'rho':>6} {'P@10%':>6} "
        f"{'tau>10.5%':>9} {'tau|params':>10}",
    ]
    final = _final_rows(rows)
    for r in final:
        nd = by_key.get((r["metric"], r["epoch"], "non-degenerate"), {})
        lines.append(
            f"{r['metric']:<16}{r['kind'][:5]:<6}{r['epoch']:>5} {r['n']:>4} {fmt(r['kendall_tau'])} "
            f"[{fmt(r['kendall_low'])},{fmt(r['kendall_high'])}] {fmt(r['spearman_rho'])} {fmt(r['precision_top10'])} "
            f"{fmt(nd.get('kendall_tau', math.nan)):>9} {fmt(r['kendall_tau_given_params']):>10}"
        )
    fitted = sorted({(r["metric"], r["calibration"]) for r in final if r["calibration"]})
    for metric, size in fitted:
        lines.append(f"{metric}: fitted on {size} calibration architectures, scored on the others only")
    lines.append("higher score = better for every metric; all epoch budgets are in correlations.csv")
    return "\n".join(lines)


def _other_studies(run: dict, others: list[dict]) -> list[str]:
    if not others:
        return []
    ids = ", ".join(str(r["run_id"]) for r in others)
    return [
        f"the folder holds {len(others) + 1} studies; this report is run {run['run_id']} (runs {ids} besides: --run ID)"
    ]


def _unfinished(records: list[Record], cfg: config.StudyConfig) -> list[str]:
    from .run import sample

    missing = set(sample(cfg)) - {r["index"] for r in records}
    if not missing:
        return []
    total = len(records) + len(missing)
    return [
        f"the study is unfinished: {len(records)} of its {total} architectures are stored, {len(missing)} missing; "
        "the command that started it resumes it"
    ]


def write_report(
    out_dir: str | Path,
    stream: TextIO | None = None,
    figures: bool = True,
    overrides: Sequence[str] = (),
    settings: dict | None = None,
    run_id: int | None = None,
) -> list[dict]:
    """Rebuild records.csv, correlations.csv/.json, the figures and the printed table from ``out_dir``.

    The stored records (of the latest study in the folder, or of ``run_id``) are evaluated with the
    ``ground_truth``/``evaluation`` settings the study was run with (stored with it), or ``settings``
    (those sections, parsed), updated by ``overrides`` such as ``ground_truth.target=c10_test_200``,
    which the printout names. The table goes to ``stream`` (default: ``sys.stdout``); it says when the
    folder holds other studies and when the study is unfinished.
    """
    stream = stream if stream is not None else sys.stdout
    out = Path(out_dir)
    db = results_file(out)
    if not db.is_file():
        raise FileNotFoundError(f"{db} not found: run `nbcap run --out {out}` first")
    run, records = load_records(db, run_id)
    with ResultStore(db) as store:
        saved = store.report_settings(run["run_id"])
        others = [r for r in store.runs() if r["run_id"] != run["run_id"]]
    study = identity.config_of_study(run["config"], f"the study in {db}").as_dict()
    base = {**study, **saved, **(settings or {})}
    cfg = config.StudyConfig.from_dict({**study, **config.report_settings(base, overrides)}, f"the study in {db}")
    if not records:
        raise LookupError(f"{db} holds no records yet")
    notes = _other_studies(run, others) + _unfinished(records, cfg)
    gt = ground_truth_for(cfg)
    truth = gt.accuracies([r["index"] for r in records])
    ev = cfg.evaluation
    rows = correlation_rows(records, truth, ev.bootstrap, ev.degenerate_below, ev.calibration, cfg.run.seed)
    with ResultStore(db) as store:
        store.export_csv(run["run_id"], out / "records.csv")
    write_rows(out / "correlations.csv", rows)
    statuses: dict[str, int] = {}
    for r in records:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    meta = {
        "config": cfg.as_dict(),
        "provenance": run["provenance"],
        "ground_truth": gt.provenance(),
        "statuses": statuses,
        "metrics": {m.name: m.description for m in metrics.REGISTRY.values()},
    }
    (out / "correlations.json").write_text(to_json({"provenance": meta, "correlations": rows}, indent=1))
    if figures:
        from .. import plots

        plots.write_all(out, records, truth, rows, gt.target.label)
    if overrides:
        stream.write(f"report settings changed from the study's: {', '.join(overrides)}\n")
    for note in notes:
        stream.write(f"note: {note}\n")
    stream.write(format_table(rows, gt.target.label, statuses) + "\n")
    failed = [r for r in records if r["status"] != "ok"]
    for r in failed:
        stream.write(f"  arch {r['index']}: {r['status']}: {r['reason']}\n")
    return rows
