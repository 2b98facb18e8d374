"""``nbcap search``: settings from the command line, seeded searches into a store, the summary and figures."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .. import metrics, paths
from ..config import StudyConfig
from ..outputs import write_rows
from ..scorer import Scorer
from ..store import identity
from ..store.results import KIND_NAMES, SEARCH_DB, check_folder, folder_kind, load_records, results_file
from .algorithms import algorithm
from .simulation import Benchmark
from .study import SearchStore, Setting, expand, outcomes, run_searches

SUMMARY = "summary.csv"


def pool_of(study: str | os.PathLike) -> tuple[np.ndarray, StudyConfig]:
    """The cells a study scored without failure, and its configuration (to read its scores back)."""
    kind = folder_kind(study) if Path(study).is_dir() else None
    if kind != "study":
        what = KIND_NAMES[kind] if kind else "no study"
        raise ValueError(
            f"--pool {study} holds {what}: --pool takes the folder of a study (nbcap run), whose scored cells "
            "bound the search and whose scores it reads"
        )
    db = results_file(study)
    run, records = load_records(db)
    cells = np.array(sorted(r["index"] for r in records if r["status"] != "failed"), dtype=np.int64)
    if len(cells) == 0:
        raise ValueError(f"--pool {study}: the study holds no scored cells")
    return cells, identity.config_of_study(run["config"], f"the configuration stored in {db}")


def check_proxies(names: Sequence[str]) -> None:
    for name in metrics.check_names(names):
        metric = metrics.get(name)
        if metric.kind == "calibrated":
            raise ValueError(
                f"{name} is fitted on a calibration set, which a search does not have: use --algorithm predictor "
                "(it calibrates a Bayesian ridge on the cells it trains) or a per-cell metric such as nwot or "
                "beta_weight"
            )


@dataclass
class SearchPlan:
    """Everything a search study needs, checked: the benchmark, the proxies' scorers, the settings."""

    bench: Benchmark
    scorers: dict[str | None, Any]
    settings: list[Setting]
    budgets: list[float]
    seeds: range

    def run(self, out: str | os.PathLike, stream: TextIO | None = None) -> Path:
        """Run every setting's missing seeds into ``out/search.db``; write the summary and figure.

        A proxy scored live keeps every cell it scores in ``out/proxy-cache`` (a study of its
        configuration; a pool's study for ``--pool``), so an interrupted search keeps that work and the
        next run reuses it; before the searches start, the time such a proxy may take is stated.
        """
        stream = stream if stream is not None else sys.stderr
        out = Path(out)
        check_folder(out, "search", "choose another folder for the search")
        for name, scorer in self.scorers.items():
            if name is not None and scorer is not None and scorer.source == "live":
                self._state_live_cost(name, scorer, out / PROXY_CACHE, stream)
        run_searches(out / SEARCH_DB, self.settings, self.seeds, self.bench, self.scorers, stream)
        drawn = {setting.key for setting in self.settings}
        return write_search_report(out, self.budgets, self.seeds, self.bench, stream, drawn)

    def cells_bound(self, proxy: str) -> int:
        """At most how many distinct cells the proxy may score over every setting and seed."""
        per_seed = {"warmup": "warmup", "proxy": "cells"}
        bound = 0
        for setting in self.settings:
            if setting.proxy == proxy:
                param = per_seed.get(setting.algorithm)
                bound += (setting.params[param] if param else len(self.bench.pool)) * len(self.seeds)
        return min(bound, len(self.bench.pool))

    def _state_live_cost(self, name: str, scorer: Scorer, cache: Path, stream: TextIO) -> None:
        if scorer.store is None:
            scorer.keep_in(cache)
        if set(self.bench.pool.tolist()) <= scorer.stored_cells():
            return  # every cell it may score is stored already (a pool's study)
        first = int(self.bench.pool[0])
        seconds = scorer.seconds(first)  # one cell scored (and kept) to measure it
        cells = self.cells_bound(name)
        stream.write(
            f"{name} is scored live ({'a training run' if scorer.needs.training else 'its passes'} per cell): "
            f"one cell costs {seconds:.1f} s here, and these searches may score up to {cells:,} cells, about "
            f"{cells * seconds / 3600:.1f} h; every scored cell is kept in {scorer.store} and reused by the next run\n"
        )


PROXY_CACHE = "proxy-cache"  # inside a search's folder: the study that keeps a live proxy's scored cells


def plan_search(
    algorithms: Sequence[str],
    proxies: Sequence[str],
    budgets: Sequence[float],
    seeds: int,
    dataset: str = "cifar10",
    params: dict[str, list[Any]] | None = None,
    config: StudyConfig | None = None,
    pool: str | os.PathLike | None = None,
    table: str | os.PathLike | None = None,
    first_seed: int = 0,
) -> SearchPlan:
    """Check a search study and prepare it, before anything is written; errors name the fix."""
    if not budgets or min(budgets) <= 0:
        raise ValueError(f"budgets must be positive simulated seconds (evaluations off CIFAR-10), got {list(budgets)}")
    if seeds < 1 or first_seed < 0:
        raise ValueError(f"--seeds must be at least 1 and --first-seed at least 0, got {seeds} and {first_seed}")
    check_proxies(proxies)
    combos = expand(algorithms, proxies, params or {})
    cells, pool_config = pool_of(pool) if pool is not None else (None, None)
    if pool is not None:
        whole = sorted({a for a, _, _ in combos if algorithm(a).whole_space})
        if whole:
            raise ValueError(
                f"{', '.join(whole)} mutate cells and need the whole space: --pool serves random and proxy"
            )
    if cells is not None:
        too_many = sorted({c for _, _, chosen in combos for c in [chosen.get("cells", 0)] if c > len(cells)})
        if too_many:
            raise ValueError(f"--param cells={too_many[0]} is more than the {len(cells)} cells of --pool {pool}")
    bench = Benchmark(table or paths.ground_truth_table(), dataset, pool=cells)
    if max(budgets) > bench.horizon_limit:
        raise ValueError(
            f"--budget {max(budgets):g}: training every one of the {len(bench.pool)} cells once costs "
            f"{bench.horizon_limit:,.0f} {bench.unit} on this clock, and a search never needs more; give at most that"
        )
    scorer_config = pool_config or config
    scorers: dict[str | None, Any] = {None: None}
    for name in sorted({p for _, p, _ in combos if p}):
        scorers[name] = Scorer(name, config=scorer_config, store=pool) if scorer_config else Scorer(name, store=pool)
    horizon = float(max(budgets))
    pool_label = f"{Path(pool).resolve()} ({len(cells)} cells)" if pool is not None and cells is not None else ""
    settings = [
        Setting(a, p, bench.dataset.name, horizon, chosen, scorers[p].identity if p else {}, pool_label)
        for a, p, chosen in combos
    ]
    return SearchPlan(bench, scorers, settings, sorted(budgets), range(first_seed, first_seed + seeds))


def run_search_study(out: str | os.PathLike, *args: Any, stream: TextIO | None = None, **kwargs: Any) -> Path:
    """:func:`plan_search` with these arguments, then run it into ``out`` (resuming what is there)."""
    return plan_search(*args, **kwargs).run(out, stream)


def write_search_report(
    out: Path, budgets: Sequence[float], seeds: range, bench: Benchmark, stream: TextIO, drawn: set[str]
) -> Path:
    """``summary.csv`` and the printed table over every setting the store holds for this dataset (so
    studies run by several commands into one folder are summarised together), at the given budgets up
    to each setting's horizon, over these seeds (those stored); the figure draws the ``drawn`` settings
    (this command's), so that it stays readable."""
    from ..plots import search_curves
    from .study import curve

    rows, curves, counts, labels = [], {}, set(), set()
    grid = np.geomspace(min(min(budgets), 10.0), max(budgets), 120)
    with SearchStore(out / SEARCH_DB) as store:
        for setting_id, setting in store.settings():
            if setting.dataset != bench.dataset.name:
                continue
            trajectories = store.trajectories(setting_id, seeds)
            if not trajectories:
                continue
            label = setting.label + (" [pool]" if setting.pool else "")
            label = label if label not in labels else f"{label} #{setting_id}"
            labels.add(label)
            counts.add(len(trajectories))
            for outcome in outcomes(trajectories, setting, [b for b in budgets if b <= setting.horizon], bench):
                row = {**outcome.row(bench), "label": label}
                row["proxy_device"] = setting.proxy_scoring.get("device", "")
                row["proxy_clock_mean"] = float(np.mean([t.proxy_clock for t in trajectories]))
                rows.append(row)
            if setting.key in drawn:
                curves[label] = (
                    grid[grid <= setting.horizon],
                    curve(trajectories, grid[grid <= setting.horizon], bench),
                )
    write_rows(out / SUMMARY, rows)
    (out / "summary.md").write_text(markdown_summary(rows, bench))
    count = "/".join(str(n) for n in sorted(counts))
    title = f"{bench.dataset.name}: mean of {count} seeds per search, 95% CI bands"
    search_curves(out / f"search_{bench.dataset.name}.png", curves, bench.optimum, title, bench.unit)
    stream.write(format_summary(rows, bench))
    return out


def markdown_summary(rows: list[dict[str, Any]], bench: Benchmark) -> str:
    """One row per search, one column per budget: mean ± std over seeds (n; one seed: the mean alone)."""
    return markdown_table(rows, bench.dataset.name, bench.unit, bench.optimum)


def markdown_table(rows: list[dict[str, Any]], dataset: str, unit: str, optimum: float) -> str:
    """The summary table from rows with numeric `budget`, `n`, `mean`, `std`; a budget smaller than a
    search's proxy cost returns nothing (n = 0) and shows as a dash."""
    budgets = sorted({r["budget"] for r in rows})
    suffix = "s" if unit == "s" else " evaluations"
    cells: dict[str, dict[float, str]] = {}
    for r in rows:
        spread = f" ± {r['std']:.2f}" if r["n"] > 1 else ""
        cells.setdefault(r["label"], {})[r["budget"]] = f"{r['mean']:.2f}{spread}" if r["n"] else "—"
    seeds = "/".join(str(n) for n in sorted({r["n"] for r in rows if r["n"]}))
    lines = [
        f"| search ({dataset}, {seeds} seeds) | " + " | ".join(f"{b:g}{suffix}" for b in budgets) + " |",
        "|---|" + "---|" * len(budgets),
        *(f"| `{label}` | " + " | ".join(by.get(b, "") for b in budgets) + " |" for label, by in cells.items()),
        "| optimum | " + " | ".join(f"{optimum:.2f}" for _ in budgets) + " |",
    ]
    if any(not r["n"] for r in rows):
        lines.append("\n— : the budget is smaller than the search's proxy cost, so it returns no cell.")
    return "\n".join(lines) + "\n"


def format_summary(rows: list[dict[str, Any]], bench: Benchmark) -> str:
    """The summary as a plain table: mean ± std [95% CI] of the returned cell's test accuracy."""
    lines = [
        f"{bench.dataset.name}: test accuracy (200 epochs) of the returned cell; optimum {bench.optimum:.2f}",
        f"{'search':<34}{'budget':>10} {'n':>5} {'mean ± std':>15} {'95% CI':>17} {'trained':>8}",
    ]
    for r in rows:
        budget = f"{r['budget']:g}{'s' if r['unit'] == 's' else ' ev'}"
        spread = f"± {r['std']:<4.2f}" if r["n"] > 1 else "(1 seed)" if r["n"] else "(no cell: the proxy costs more)"
        interval = f"[{r['ci95_low']:.2f}, {r['ci95_high']:.2f}]" if r["n"] > 1 else ""
        lines.append(
            f"{r['label']:<34}{budget:>10} {r['n']:>5} {r['mean']:>8.2f} {spread:<8} {interval:>17} "
            f"{r['trained_cells']:>7.1f}"
        )
    return "\n".join(lines) + "\n"
