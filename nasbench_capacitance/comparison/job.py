"""The comparison itself: the metrics and every built-in baseline on the same cells, against every target.

Each metric's scores come from where they are cheapest and exact: the shipped whole-space table of
the same setting (built-ins), the imported file, or a resumable whole-space scoring of just these cells
in ``OUT/scores`` (a plug-in, or a built-in at a setting no table has). Every statistic rests on the
cells where both the score and the target exist, and says how many.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from .. import metrics, paths
from ..config import StudyConfig
from ..data.ground_truth import GroundTruth
from ..evaluation import ablation, ranking
from ..metrics.aggregates import aggregate_columns
from ..metrics.imported import ImportedScores
from ..nb201 import space
from ..outputs import write_rows
from ..whole_space import report as space_report
from ..whole_space.scoring import score_space, space_records
from ..whole_space.table import reference_table, table_for

DEFAULT_CELLS = 1000
SAMPLE_SEED = 0  # the cells of a comparison on a sample: the same for every metric and every run
RESAMPLES = 200  # bootstrap resamples of the cells (intervals and paired differences)
CALIBRATION_SIZES = (25, 100)
SCORES = "scores"  # inside OUT: the whole-space scoring of the metrics no table holds


class CompareError(ValueError):
    """A comparison that cannot run as asked; the message names the fix."""


@dataclass
class Comparison:
    """Every score of every compared metric and baseline on the same cells, with where each came from."""

    cfg: StudyConfig
    names: list[str]  # the metrics compared
    baselines: list[str]  # the built-in training-free metrics
    cells: np.ndarray
    columns: dict[str, np.ndarray]  # by metric, aligned with ``cells``
    seconds: dict[str, np.ndarray]  # seconds per cell of each metric (NaN: not known)
    sources: dict[str, str] = field(default_factory=dict)  # by metric: where its scores and seconds come from
    whole_space: bool = False
    asked: str = ""  # the cells asked for, when the imported metrics cover fewer

    @property
    def described(self) -> str:
        """The cells, as the report names them."""
        if self.asked:
            return f"the {len(self.cells):,} cells of {self.asked} that every imported metric scores"
        if self.whole_space:
            return f"all {len(self.cells):,} cells"
        return f"{len(self.cells):,} cells (a uniform sample, seed {SAMPLE_SEED})"

    @property
    def everything(self) -> list[str]:
        return list(dict.fromkeys([*self.names, *self.baselines]))


def check_metrics(names: Sequence[str]) -> list[str]:
    """The metrics to compare: registered (built-in, plug-in or imported) and training-free."""
    chosen = metrics.check_names(n.strip() for n in names if n.strip())
    if not chosen:
        raise CompareError("name at least one metric to compare, e.g. nbcap compare nwot")
    aggregates = [n for n in chosen if metrics.get(n).kind == "aggregate"]
    if aggregates:
        raise CompareError(
            f"{', '.join(aggregates)}: every comparison reports the rank aggregates beside the other baselines "
            "(their components ranked over the compared cells); name a metric to compare with them"
        )
    trained = [n for n in chosen if metrics.get(n).kind not in ("arch", "init")]
    if trained:
        raise CompareError(
            f"{', '.join(trained)} need{'s' if len(trained) == 1 else ''} training: nbcap compare ranks training-free "
            "metrics over many cells; a trained metric is compared with every baseline by nbcap run on a study's cells"
        )
    return chosen


def check_cells(cells: int | None, whole_space: bool) -> None:
    if whole_space and cells is not None:
        raise CompareError("give --cells N or --whole-space, not both")
    if cells is not None and not 1 <= cells <= space.NUM_ARCHS:
        raise CompareError(f"--cells takes 1..{space.NUM_ARCHS} cells, got {cells}")


def the_cells(cells: int | None, whole_space: bool) -> np.ndarray:
    if whole_space:
        return np.arange(space.NUM_ARCHS)
    return np.array(sorted(space.sample_indices(cells or DEFAULT_CELLS, seed=SAMPLE_SEED)), dtype=np.int64)


BASELINE_CHOICES = ("auto", "all", "table")


def baselines() -> list[str]:
    """Every built-in training-free metric: what a new metric is compared with."""
    return [m for m in metrics.available("arch") + metrics.available("init") if metrics.get(m).built_in]


def check_baselines(chosen: str) -> str | list[str]:
    """``all`` (every built-in training-free metric), ``table`` (those the shipped table holds for the
    compared cells: nothing scored here), ``auto`` (``table`` where a shipped table fits the setting,
    ``all`` elsewhere) or a comma-separated list of built-ins."""
    if chosen in BASELINE_CHOICES:
        return chosen
    names = [n.strip() for n in chosen.split(",") if n.strip()]
    wrong = [n for n in names if n not in baselines()]
    if wrong or not names:
        raise CompareError(
            f"--baselines {chosen}: give auto, all, table, or built-in training-free metrics "
            f"({', '.join(wrong) or 'none named'} {'is' if len(wrong) == 1 else 'are'} not one; "
            "nbcap metrics lists them)"
        )
    return names


def gather(
    names: list[str],
    cfg: StudyConfig,
    cells: np.ndarray,
    out: Path,
    imported: Sequence[ImportedScores] = (),
    costs: dict[str, float] | None = None,
    stream: TextIO | None = None,
    chosen_baselines: str | list[str] = "auto",
) -> Comparison:
    """Every metric's and baseline's scores on ``cells``: read, imported, or scored (resumably) in OUT/scores."""
    stream = stream if stream is not None else sys.stderr
    costs = dict(costs or {})
    files = {name: scores for scores in imported for name in scores.columns}
    covered = np.logical_and.reduce([np.isfinite(files[n].columns[n][cells]) for n in names if n in files] or [True])
    asked = "the whole space" if len(cells) == space.NUM_ARCHS else f"the {len(cells):,}-cell sample"
    if not covered.all():
        stream.write(
            f"{int(covered.sum()):,} of the {len(cells):,} cells have a score from every imported metric compared: "
            "the comparison rests on those\n"
        )
        cells = cells[np.broadcast_to(covered, cells.shape)]
    if len(cells) < 3:
        raise CompareError(f"only {len(cells)} cells have a score from every metric compared: nothing to rank")
    shipped = table_for(cfg)
    table = reference_table(shipped[0]) if shipped else {}
    if chosen_baselines == "auto":
        chosen_baselines = "table" if shipped else "all"
    if chosen_baselines == "table":
        chosen_baselines = [b for b in baselines() if b in table and np.isfinite(table[b][cells]).all()]
    comp = Comparison(
        cfg,
        names,
        baselines() if chosen_baselines == "all" else list(chosen_baselines),
        cells,
        {},
        {},
        whole_space=len(cells) == space.NUM_ARCHS,
    )
    comp.asked = asked if not covered.all() else ""
    wanted = comp.everything
    live = []
    for name in wanted:
        if name in files:
            scores = files[name]
            comp.columns[name] = scores.columns[name][cells]
            if name in costs:
                comp.seconds[name] = np.full(len(cells), costs[name])
                timing = f"charged {costs[name]:g} s per cell, as --cost says"
            elif name in scores.seconds:
                comp.seconds[name] = scores.seconds[name][cells]
                timing = "charged the seconds the file records"
            else:
                comp.seconds[name] = np.zeros(len(cells))
                timing = "charged 0 s (the file records no time; --cost NAME=SECONDS states one)"
            comp.sources[name] = f"imported from {scores.path.name}, {scores.coverage(name):,} cells; {timing}"
        elif name in table and np.isfinite(table[name][cells]).all():
            comp.columns[name] = table[name][cells]
            comp.seconds[name] = table.get(f"time_{name}", np.zeros(space.NUM_ARCHS))[cells]
            comp.sources[name] = f"the shipped {shipped[1]} table" if shipped else ""
        else:
            live.append(name)
    if live:
        _score_here(comp, live, out / SCORES, stream)
    _add_aggregates(comp)
    for name, cost in costs.items():
        if name not in files:
            raise CompareError(f"--cost {name}={cost}: --cost states the seconds of imported scores; {name} is not one")
    return comp


def _add_aggregates(comp: Comparison) -> None:
    """The rank aggregates (AZ-NAS, VKDNW's, TE-NAS) as baselines, ranked over the comparison's cells; each
    costs what its components cost."""
    for name, values in aggregate_columns(comp.columns).items():
        components = metrics.get(name).aggregate.components  # type: ignore[union-attr]
        comp.columns[name] = values
        comp.seconds[name] = np.sum([comp.seconds[c] for c in components], axis=0)
        comp.sources[name] = f"ranks of {', '.join(components)} over these {len(comp.cells):,} cells"
        comp.baselines.append(name)


def _score_here(comp: Comparison, names: list[str], folder: Path, stream: TextIO) -> None:
    """Score ``names`` on the comparison's cells into a resumable whole-space scoring, and read it back."""
    stream.write(f"scoring {', '.join(names)} on {len(comp.cells):,} cells into {folder} (resumable)\n")
    score_space(comp.cfg, folder, names, [int(i) for i in comp.cells], stream=stream)
    _, records = space_records(folder / "results.db") if (folder / "results.db").is_file() else ({}, [])
    by_index = {r["index"]: r for r in records}
    for name in names:
        comp.columns[name] = np.array([by_index[int(i)].score(name) for i in comp.cells])
        comp.seconds[name] = np.array([by_index[int(i)]["timings"].get(f"zc_{name}", 0.0) for i in comp.cells])
        comp.sources[name] = f"scored here ({folder.name}/), seconds measured on this machine"


# ----------------------------------------------------------------------------- statistics


def targets() -> list[GroundTruth]:
    return space_report.standard_targets(paths.ground_truth_table())


def correlation_rows(comp: Comparison, truths: list[GroundTruth], resamples: int = RESAMPLES) -> list[dict]:
    """Per metric × target: every rank statistic (all cells and without the chance-level ones) and the
    metric's place among the baselines by Kendall τ."""
    rows = space_report.correlation_rows(
        {n: comp.columns[n] for n in comp.everything}, truths, [int(i) for i in comp.cells], resamples
    )
    for gt in truths:
        mine = [r for r in rows if r["target"] == gt.target.column and r["subset"] == "all"]
        order = sorted(mine, key=lambda r: -np.nan_to_num(r["kendall_tau"], nan=-2))
        for place, r in enumerate(order, start=1):
            r["place"] = place
    for r in rows:
        r.setdefault("place", "")
        r["compared"] = r["metric"] in comp.names
    return rows


def paired_rows(comp: Comparison, truths: list[GroundTruth], resamples: int = RESAMPLES) -> list[dict]:
    """Δτ of every compared metric against every baseline, with its paired 95% bootstrap interval."""
    rows = []
    for gt in truths:
        truth = gt.accuracies(comp.cells)
        taus = ranking.resampled_taus({n: comp.columns[n] for n in comp.everything}, truth, resamples)
        point = {n: ranking.kendall_tau(comp.columns[n], truth) for n in comp.everything}
        for name in comp.names:
            for base in comp.baselines:
                if base == name:
                    continue
                low, high = ranking.percentile_interval(taus[name] - taus[base])
                rows.append(
                    {
                        "metric": name,
                        "baseline": base,
                        "target": gt.target.column,
                        "delta_tau": point[name] - point[base],
                        "low": low,
                        "high": high,
                    }
                )
    return rows


def search_quality_rows(comp: Comparison, truths: list[GroundTruth]) -> list[dict]:
    return space_report.search_rows({n: comp.columns[n] for n in comp.everything}, truths, [int(i) for i in comp.cells])


def information_rows(comp: Comparison, truth: np.ndarray, repeats: int = 10, resamples: int = RESAMPLES) -> list[dict]:
    """Does the metric add information? A calibrated model over the built-in free features with and without
    it (ridge and forest, at 25 and 100 calibration cells, paired: the ablation of docs/beta_study.md)."""
    rows = []
    for name in comp.names:
        free = [b for b in comp.baselines if b != name and b not in ablation.BETA_PROXIES]
        blocks = {
            "free": np.column_stack([ablation.signed_log(comp.columns[b]) for b in free]),
            "metric": ablation.signed_log(comp.columns[name])[:, None],
        }
        known = np.isfinite(truth) & np.isfinite(blocks["metric"][:, 0])
        sizes = [s for s in CALIBRATION_SIZES if int(known.sum()) - s >= ablation.MIN_HELD_OUT]
        if not sizes:
            continue
        result = ablation.ablate(
            {k: v[known] for k, v in blocks.items()},
            truth[known],
            sizes=sizes,
            repeats=repeats,
            resamples=resamples,
            feature_sets={"free": ("free",), "free+metric": ("free", "metric")},
            increments=(("free+metric", "free"),),
        )
        rows += [{"metric": name, **r.as_dict()} for r in result]
    return rows


def write_scores(comp: Comparison, path: Path) -> Path:
    """The comparison's scores as a whole-space table (``space.csv``'s columns): what its searches read."""
    rows = []
    for n, index in enumerate(comp.cells):
        row: dict[str, object] = {"index": int(index), "arch_str": space.arch_from_index(int(index)).to_string()}
        row |= {name: comp.columns[name][n] for name in comp.everything}
        row |= {f"time_{name}": comp.seconds[name][n] for name in comp.everything}
        rows.append(row)
    return write_rows(path, rows)


def best_baseline(rows: list[dict], comp: Comparison, target: str) -> str:
    """The built-in metric with the highest τ on ``target`` over these cells."""
    mine = [r for r in rows if r["target"] == target and r["subset"] == "all" and r["metric"] in comp.baselines]
    return max(mine, key=lambda r: np.nan_to_num(r["kendall_tau"], nan=-2))["metric"]


def summary_line(comp: Comparison, rows: list[dict], paired: list[dict], name: str, target: str) -> str:
    """One sentence per compared metric for the report's top."""
    mine = next(r for r in rows if r["metric"] == name and r["target"] == target and r["subset"] == "all")
    best = best_baseline(rows, comp, target)
    versus = next((p for p in paired if p["metric"] == name and p["baseline"] == best and p["target"] == target), None)
    place = f"{mine['place']} of {len(comp.everything)}"
    delta = ""
    if versus:
        interval = f"[{versus['low']:+.3f}, {versus['high']:+.3f}]"
        delta = f"; Δτ against the best baseline ({best}) {versus['delta_tau']:+.3f} {interval}"
    given = mine["kendall_tau_given_params"]
    return (
        f"`{name}`: τ {mine['kendall_tau']:.3f} [{mine['kendall_low']:.3f}, {mine['kendall_high']:.3f}] on "
        f"{mine['n']:,} cells, place {place}{delta}; τ given parameter count "
        f"{'—' if given is None or math.isnan(given) else f'{given:.3f}'}"
    )
