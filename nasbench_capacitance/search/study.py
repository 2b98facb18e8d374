"""Many seeded searches per setting, stored one seed per transaction, summarised per budget.

A *setting* is what fixes a search's outcome given its seed: algorithm and its parameters, proxy
and how it is scored, dataset, pool and horizon (the largest budget). ``OUT/search.db`` holds one
trajectory per (setting, seed); a killed run resumes with the seeds it has not stored, and only this
process writes. Any budget up to the horizon is read off the stored trajectories.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ..execution.jobs import run_job
from ..outputs import to_json
from ..store.results import config_hash, open_store
from .algorithms import algorithm, check_param
from .simulation import Benchmark, OutOfBudget, Simulation, Trajectory

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (
    setting_id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    setting TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS searches (
    setting_id INTEGER NOT NULL REFERENCES settings(setting_id),
    seed INTEGER NOT NULL,
    trajectory TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (setting_id, seed)
);
"""


@dataclass(frozen=True)
class Setting:
    algorithm: str
    proxy: str | None
    dataset: str
    horizon: float
    params: dict[str, Any] = field(default_factory=dict)
    proxy_scoring: dict[str, Any] = field(default_factory=dict)  # what fixes the proxy's scores and costs
    pool: str = ""  # a study whose cells bound the search ("": the whole space)

    @property
    def key(self) -> str:
        return config_hash(asdict(self))

    @property
    def label(self) -> str:
        """``rea``, ``warmup(nwot)``, ``proxy(nwot, cells=10)``: algorithm, proxy, non-default parameters."""
        defaults = algorithm(self.algorithm).defaults
        changed = [f"{k}={v}" for k, v in sorted(self.params.items()) if defaults.get(k) != v]
        inside = ", ".join(([self.proxy] if self.proxy else []) + changed)
        return f"{self.algorithm}({inside})" if inside else self.algorithm


def expand(
    algorithms: Sequence[str], proxies: Sequence[str], params: dict[str, list[Any]]
) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(algorithm, proxy, parameters) for every combination that applies; errors name the fix."""
    proxies = list(proxies)
    unknown = set(params) - {k for a in algorithms for k in algorithm(a).defaults}
    if unknown:
        raise ValueError(
            f"no chosen algorithm takes parameter(s) {', '.join(sorted(unknown))}; "
            + "; ".join(f"{a}: {', '.join(algorithm(a).defaults) or 'none'}" for a in algorithms)
        )
    if proxies and not any(algorithm(a).uses_proxy for a in algorithms):
        raise ValueError(
            f"{', '.join(algorithms)} take no proxy: drop --proxy or add warmup, moves, proxy or predictor"
        )
    out = []
    for name in algorithms:
        spec = algorithm(name)
        if spec.needs_proxy and not proxies:
            raise ValueError(f"{name} needs a proxy: add --proxy METRIC (e.g. --proxy nwot)")
        own = {k: v for k, v in params.items() if k in spec.defaults}
        for key, values in own.items():
            for value in values:
                check_param(key, value)
        grid = [dict(zip(own, values)) for values in itertools.product(*own.values())]
        for chosen in grid:
            if chosen.get("warmup") and not proxies:
                raise ValueError(
                    f"{name} with warmup={chosen['warmup']} needs a proxy to rank them: add --proxy METRIC"
                )
            for proxy in proxies if spec.uses_proxy and proxies else [None]:
                out.append((name, proxy, {**spec.defaults, **chosen}))
    return out


class SearchStore:
    """``search.db``: settings and one stored trajectory per (setting, seed)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._conn = open_store(self.path, SCHEMA, "search")

    def __enter__(self) -> SearchStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.close()

    def setting_id(self, setting: Setting) -> int:
        with self._conn:
            self._conn.execute(
                "INSERT OR IGNORE INTO settings (key, setting) VALUES (?, ?)",
                (setting.key, to_json(asdict(setting), sort_keys=True)),
            )
        return int(self._conn.execute("SELECT setting_id FROM settings WHERE key = ?", (setting.key,)).fetchone()[0])

    def seeds(self, setting_id: int) -> set[int]:
        return {r[0] for r in self._conn.execute("SELECT seed FROM searches WHERE setting_id = ?", (setting_id,))}

    def add(self, setting_id: int, seed: int, trajectory: Trajectory) -> None:
        with self._conn:
            self._conn.execute(
                "INSERT OR IGNORE INTO searches (setting_id, seed, trajectory, created) VALUES (?, ?, ?, ?)",
                (setting_id, seed, to_json(trajectory.as_dict()), time.time()),
            )

    def trajectories(self, setting_id: int, seeds: range) -> list[Trajectory]:
        """The stored trajectories of these seeds, in seed order."""
        rows = self._conn.execute(
            "SELECT seed, trajectory FROM searches WHERE setting_id = ? AND seed >= ? AND seed < ? ORDER BY seed",
            (setting_id, seeds.start, seeds.stop),
        ).fetchall()
        return [Trajectory.from_dict(json.loads(t)) for _, t in rows]

    def settings(self) -> list[tuple[int, Setting]]:
        rows = self._conn.execute("SELECT setting_id, setting FROM settings ORDER BY setting_id").fetchall()
        return [(i, Setting(**json.loads(s))) for i, s in rows]


def search_once(setting: Setting, seed: int, bench: Benchmark, scorer: Any) -> Trajectory:
    """One seeded search of ``setting`` until its horizon (or until a finite algorithm is done)."""
    sim = Simulation(bench, setting.horizon, scorer)
    try:
        algorithm(setting.algorithm).run(sim, np.random.default_rng(seed), **setting.params)
    except OutOfBudget:
        pass
    return sim.trajectory


@dataclass
class SearchLedger:
    """The seeds a search store holds for the settings of one command, as a resumable job sees them."""

    store: SearchStore
    ids: dict[str, int]  # setting key -> its id in the store

    def done(self) -> set[tuple[str, int]]:
        return {(key, seed) for key, setting_id in self.ids.items() for seed in self.store.seeds(setting_id)}

    def add(self, result: tuple[Setting, int, Trajectory]) -> tuple[str, str]:
        setting, seed, trajectory = result
        self.store.add(self.ids[setting.key], seed, trajectory)
        return f"{setting.label} seed {seed}", "done"


def run_searches(
    path: Path,
    settings: Sequence[Setting],
    seeds: range,
    bench: Benchmark,
    scorers: dict[str | None, Any],
    stream: TextIO | None = None,
) -> None:
    """Every setting for these seeds into the store at ``path``, skipping those stored; one transaction per seed."""
    stream = stream if stream is not None else sys.stderr

    @contextlib.contextmanager
    def ledger(store_path: Path) -> Iterator[SearchLedger]:
        with SearchStore(store_path) as store:
            yield SearchLedger(store, {s.key: store.setting_id(s) for s in settings})

    def compute(todo: list[tuple[Setting, int]], write: Callable[[tuple[Setting, int, Trajectory]], None]) -> None:
        for setting, seed in todo:
            write((setting, seed, search_once(setting, seed, bench, scorers[setting.proxy])))

    items = [(setting, seed) for setting in settings for seed in seeds]
    run_job(
        path,
        ledger,
        items,
        lambda item: (item[0].key, item[1]),
        compute,
        stream,
        unit="search",
        units="searches",
        every=10.0,
    )


@dataclass(frozen=True)
class Outcome:
    """The returned cells of many seeds of one setting at one budget."""

    setting: Setting
    budget: float
    accuracies: np.ndarray  # test accuracy of the returned cell, one per seed (NaN: nothing returned yet)
    trained: np.ndarray  # cells trained by then, one per seed

    def row(self, bench: Benchmark) -> dict[str, Any]:
        """Mean, sd and a 95% t-interval of the mean over the seeds, clipped to 0..100 (none for one seed)."""
        values = self.accuracies[np.isfinite(self.accuracies)]
        n = len(values)
        mean = float(values.mean()) if n else math.nan
        std = float(values.std(ddof=1)) if n > 1 else math.nan
        half = _t95(n) * std / math.sqrt(n) if n > 1 else math.nan
        return {
            "algorithm": self.setting.algorithm,
            "proxy": self.setting.proxy or "",
            "label": self.setting.label,
            "dataset": self.setting.dataset,
            "budget": self.budget,
            "unit": bench.unit,
            "n": n,
            "mean": mean,
            "std": std,
            "ci95_low": max(0.0, mean - half) if n > 1 else math.nan,
            "ci95_high": min(100.0, mean + half) if n > 1 else math.nan,
            "regret": bench.optimum - mean,
            "trained_cells": float(self.trained.mean()),
            "pool": self.setting.pool,
        }


def _t95(n: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, n - 1))


def outcomes(
    trajectories: Sequence[Trajectory], setting: Setting, budgets: Sequence[float], bench: Benchmark
) -> Iterator[Outcome]:
    for budget in budgets:
        chosen = [t.returned_at(budget) for t in trajectories]
        accuracies = np.array([bench.test[i] if i is not None else math.nan for i in chosen])
        trained = np.array([sum(1 for t_, _, _ in t.trained if t_ <= budget) for t in trajectories])
        yield Outcome(setting, budget, accuracies, trained)


def curve(trajectories: Sequence[Trajectory], grid: np.ndarray, bench: Benchmark) -> np.ndarray:
    """``(seeds, len(grid))``: test accuracy of the returned cell at every clock value (NaN before the first)."""
    out = np.full((len(trajectories), len(grid)), np.nan)
    for row, t in enumerate(trajectories):
        if not t.returned:
            continue
        times = np.array([r[0] for r in t.returned])
        accs = bench.test[np.array([r[1] for r in t.returned])]
        position = np.searchsorted(times, grid, side="right") - 1
        out[row, position >= 0] = accs[position[position >= 0]]
    return out
