"""The simulated protocol of NATS-Bench: a search "trains" a cell by reading NB201, on a simulated clock.

Training a cell returns NB201's 12-epoch validation accuracy and charges the seconds NB201 recorded
for it (``c10valid_cost_12_s``; CIFAR-10 only). CIFAR-100 and ImageNet16-120 have no such times
offline, so there the clock counts evaluations (one per trained cell) and a proxy's seconds are
converted at CIFAR-10's mean cost of one evaluation. A proxy charges the seconds it measured, once
per cell and search. A search returns the cell with the best signal it has seen; only that cell's
200-epoch test accuracy is ever read.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data.ground_truth import read_columns
from ..scorer import Scorer


@dataclass(frozen=True)
class Dataset:
    name: str
    signal: str  # the 12-epoch validation accuracy a search sees
    test: str  # the 200-epoch test accuracy of the returned cell
    cost: str | None  # seconds of one 12-epoch evaluation; None: the clock counts evaluations

    @property
    def unit(self) -> str:
        return "s" if self.cost else "evaluations"


DATASETS = {
    d.name: d
    for d in (
        Dataset("cifar10", "c10valid_xvalid_12", "c10_test_200", "c10valid_cost_12_s"),
        Dataset("cifar100", "c100_xvalid_12", "c100_test_200", None),
        Dataset("ImageNet16-120", "in16_xvalid_12", "in16_test_200", None),
    )
}
CIFAR10_COST = "c10valid_cost_12_s"


def dataset(name: str) -> Dataset:
    """A dataset by its xautodl name (case-insensitive)."""
    for key, value in DATASETS.items():
        if key.lower() == name.lower():
            return value
    raise ValueError(f"unknown dataset {name!r}; the search has ground truth for: {', '.join(DATASETS)}")


class Benchmark:
    """NB201 as a search sees it, by index: signal, charged cost, and the test accuracy reported."""

    def __init__(self, table: str | os.PathLike, name: str = "cifar10", pool: np.ndarray | None = None):
        self.dataset = dataset(name)
        wanted = {self.dataset.signal, self.dataset.test, CIFAR10_COST}
        columns = read_columns(table, sorted(wanted), f"the search on {self.dataset.name}")
        self.signal = columns[self.dataset.signal]
        self.test = columns[self.dataset.test]
        mean_cost = float(np.nanmean(columns[CIFAR10_COST]))
        self.cost = columns[self.dataset.cost] if self.dataset.cost else np.ones_like(self.signal)
        self.seconds_per_unit = 1.0 if self.dataset.cost else mean_cost  # converts a proxy's seconds to clock units
        self.pool = np.arange(len(self.signal)) if pool is None else np.asarray(pool, dtype=np.int64)
        self.optimum = float(np.nanmax(self.test))
        self._check_pool(table)

    def _check_pool(self, table: str | os.PathLike) -> None:
        """Every cell a search can train must have a signal, a test accuracy and a positive cost, or the
        clock would stall (a NaN or zero cost never reaches the budget)."""
        bad = ~(np.isfinite(self.signal) & np.isfinite(self.test) & np.isfinite(self.cost) & (self.cost > 0))[self.pool]
        if bad.any():
            example = int(self.pool[np.flatnonzero(bad)[0]])
            raise ValueError(
                f"{table} lacks the 12-epoch signal, the 200-epoch test accuracy or a positive cost of "
                f"{int(bad.sum())} of the cells a search may train (cell {example} first): a search on "
                f"{self.dataset.name} needs all of them; the shipped data/nb201/nb201_merged.csv.gz has them"
            )

    @property
    def horizon_limit(self) -> float:
        """The clock that trains every cell of the pool once: no budget needs more."""
        return float(self.cost[self.pool].sum())

    @property
    def unit(self) -> str:
        return self.dataset.unit


class OutOfBudget(Exception):
    """The clock has reached the search's horizon."""


@dataclass
class Trajectory:
    """What one search did: trained cells in order, the returned cell over time, proxy use."""

    trained: list[tuple[float, int, float]] = field(default_factory=list)  # (clock after, index, signal)
    returned: list[tuple[float, int]] = field(default_factory=list)  # (clock, index) whenever it changes
    proxy_calls: int = 0
    proxy_clock: float = 0.0  # clock units charged by the proxy
    clock: float = 0.0

    def returned_at(self, budget: float) -> int | None:
        """The cell the search would return with ``budget`` on the clock (None: nothing finished yet)."""
        chosen = None
        for t, index in self.returned:
            if t > budget:
                break
            chosen = index
        return chosen

    def as_dict(self) -> dict[str, Any]:
        return {
            "trained": self.trained,
            "returned": self.returned,
            "proxy_calls": self.proxy_calls,
            "proxy_clock": self.proxy_clock,
            "clock": self.clock,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Trajectory:
        return cls(
            [tuple(t) for t in values["trained"]],
            [tuple(r) for r in values["returned"]],
            values["proxy_calls"],
            values["proxy_clock"],
            values["clock"],
        )


class Simulation:
    """One search on the clock: :meth:`train` and :meth:`proxy` charge it; past the horizon they raise."""

    def __init__(self, bench: Benchmark, horizon: float, scorer: Scorer | None = None):
        self.bench, self.horizon, self.scorer = bench, horizon, scorer
        self.trajectory = Trajectory()
        self._best = -math.inf
        self._proxy: dict[int, float] = {}

    @property
    def clock(self) -> float:
        return self.trajectory.clock

    def sample(self, rng: np.random.Generator, n: int | None = None, replace: bool = True) -> Any:
        """Uniform cells of the pool: one index, or ``n`` of them (distinct unless ``replace``)."""
        pool = self.bench.pool
        if n is None:
            return int(pool[rng.integers(len(pool))])
        if not replace and n > len(pool):
            raise ValueError(f"cannot draw {n} distinct cells from a pool of {len(pool)}")
        return [int(i) for i in rng.choice(pool, size=n, replace=replace)]

    def _charge(self, amount: float) -> None:
        if self.trajectory.clock >= self.horizon:
            raise OutOfBudget
        self.trajectory.clock += amount

    def train(self, index: int) -> float:
        """NB201's 12-epoch validation accuracy of the cell, its seconds charged; tracks the best."""
        self._charge(float(self.bench.cost[index]))
        signal = float(self.bench.signal[index])
        self.trajectory.trained.append((self.clock, index, signal))
        if signal > self._best:
            self._best = signal
            self.trajectory.returned.append((self.clock, index))
        return signal

    def proxy(self, index: int) -> float:
        """The proxy's score of the cell (-inf where undefined), its seconds charged once per search."""
        if self.scorer is None:
            raise ValueError("this algorithm needs a proxy (--proxy METRIC)")
        if index not in self._proxy:
            amount = self.scorer.seconds(index) / self.bench.seconds_per_unit
            self._charge(amount)
            value = self.scorer.score(index)
            self._proxy[index] = value if math.isfinite(value) else -math.inf
            self.trajectory.proxy_calls += 1
            self.trajectory.proxy_clock += amount
        return self._proxy[index]

    def propose(self, index: int) -> None:
        """Return ``index`` from now on (selection by proxy alone, without training)."""
        if not self.trajectory.returned or self.trajectory.returned[-1][1] != index:
            self.trajectory.returned.append((self.clock, index))
