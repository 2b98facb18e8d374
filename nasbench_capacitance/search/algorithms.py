"""Search algorithms on the simulated clock; each runs until the clock passes its horizon.

Every algorithm is ``(sim, rng, **params) -> None``: it calls ``sim.train`` (NB201's 12-epoch signal,
charged) and ``sim.proxy`` (the proxy's score, charged once per cell) until :class:`OutOfBudget`
stops it; what it returns at any budget is read off ``sim.trajectory``. The seed's generator is the
only randomness, so a seed fixes the result.

- ``random``: random search (xautodl ``random_wo_share.py``).
- ``rea``: regularized evolution, population 10, tournament 3, one-edit mutation (xautodl
  ``regularized_ea.py``; Real et al. 2019).
- ``warmup``: REA whose first population is the proxy's best of ``warmup`` random cells
  (Abdelfattah et al. 2021, zero-cost-nas).
- ``moves``: REA whose mutation scores the 24 one-edit mutants of the parent with the proxy and trains
  the best one not trained yet, a random one with probability ``random_move`` (zero-cost-nas);
  with ``warmup`` > 0 its first population is chosen as ``warmup``'s is.
- ``proxy``: score ``cells`` random cells with the proxy and return the best, or train its ``top_k``
  best and return the best of those (NASWOT, Mellor et al. 2021).
- ``predictor``: BANANAS-like: a Bayesian ridge on the cell's operations (and the proxy's score, when
  one is given) is fitted on every cell trained so far and picks the next one from the mutants of the
  best cells and random cells by Thompson sampling (White et al. 2021); with ``warmup`` > 0 its first
  cells are the proxy's best of ``warmup`` random cells.
- ``few_shot``: the same loop with the few-shot predictor's graph features (and the proxy's score) in
  a random forest, the next cell chosen by expected improvement over the best trained signal.
"""

from __future__ import annotations

import collections
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..nb201 import space
from .simulation import OutOfBudget, Simulation


@dataclass(frozen=True)
class Algorithm:
    name: str
    run: Callable[..., None]
    defaults: dict[str, Any]
    needs_proxy: bool  # True: --proxy is required; False: optional (predictor) or unused
    uses_proxy: bool
    whole_space: bool  # mutates cells, so it cannot be restricted to a pool of pre-scored cells
    description: str


ALGORITHMS: dict[str, Algorithm] = {}


def search_algorithm(
    name: str,
    *,
    description: str,
    defaults: dict[str, Any] | None = None,
    uses_proxy: bool = False,
    needs_proxy: bool = False,
    whole_space: bool = True,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register the decorated ``(sim, rng, **params) -> None`` as search algorithm ``name``.

    ``defaults`` are its parameters (each checked against :data:`PARAMETERS`); ``uses_proxy``: it can
    read a proxy, ``needs_proxy``: it cannot run without one; ``whole_space``: it mutates cells, so it
    cannot be bounded to a pool of pre-scored cells.
    """

    def decorate(run: Callable[..., None]) -> Callable[..., None]:
        ALGORITHMS[name] = Algorithm(
            name, run, dict(defaults or {}), needs_proxy, uses_proxy or needs_proxy, whole_space, description
        )
        return run

    return decorate


def _evolve(
    sim: Simulation,
    rng: np.random.Generator,
    population: int,
    sample: int,
    warmup: int = 0,
    proxy_moves: bool = False,
    random_move: float = 0.0,
) -> None:
    """Aging evolution; optionally a proxy-chosen first population and proxy-chosen mutations."""
    neighbours = space.neighbour_indices()
    alive: collections.deque[tuple[int, float]] = collections.deque()
    for index in _first_cells(sim, rng, population, warmup, distinct=False):
        alive.append((index, sim.train(index)))
    trained = {i for i, _ in alive}
    while True:
        contestants = [alive[j] for j in rng.integers(len(alive), size=sample)]
        parent = max(contestants, key=lambda p: p[1])[0]
        mutants = neighbours[parent]
        if proxy_moves and rng.random() >= random_move:
            fresh = [int(m) for m in mutants if int(m) not in trained] or [int(m) for m in mutants]
            child = max(fresh, key=sim.proxy)
        else:
            child = int(mutants[rng.integers(len(mutants))])
        alive.append((child, sim.train(child)))
        trained.add(child)
        alive.popleft()


def _first_cells(sim: Simulation, rng: np.random.Generator, n: int, warmup: int, distinct: bool) -> list[int]:
    """``n`` random cells, or the proxy's ``n`` best of ``warmup`` random cells."""
    if not warmup:
        return sim.sample(rng, n, replace=not distinct)
    scored = [(sim.proxy(i), i) for i in sim.sample(rng, warmup, replace=False)]
    return [i for _, i in sorted(scored, key=lambda p: -p[0])[:n]]


@search_algorithm("random", description="random search", whole_space=False)
def random_search(sim: Simulation, rng: np.random.Generator) -> None:
    while True:
        sim.train(sim.sample(rng))


@search_algorithm("rea", description="regularized evolution", defaults={"population": 10, "sample": 3})
def rea(sim: Simulation, rng: np.random.Generator, population: int, sample: int) -> None:
    _evolve(sim, rng, population, sample)


@search_algorithm(
    "warmup",
    description="REA seeded with the proxy's best of `warmup` random cells",
    defaults={"population": 10, "sample": 3, "warmup": 3000},
    needs_proxy=True,
)
def warm_started_rea(sim: Simulation, rng: np.random.Generator, population: int, sample: int, warmup: int) -> None:
    _evolve(sim, rng, population, sample, warmup=warmup)


@search_algorithm(
    "moves",
    description="REA whose mutation takes the proxy's best one-edit mutant",
    defaults={"population": 10, "sample": 3, "random_move": 0.25, "warmup": 0},
    needs_proxy=True,
)
def moves(
    sim: Simulation, rng: np.random.Generator, population: int, sample: int, random_move: float, warmup: int
) -> None:
    _evolve(sim, rng, population, sample, warmup=warmup, proxy_moves=True, random_move=random_move)


@search_algorithm(
    "proxy",
    description="score `cells` random cells, return the proxy's best (or train its top_k)",
    defaults={"cells": 100, "top_k": 0},
    needs_proxy=True,
    whole_space=False,
)
def proxy_selection(sim: Simulation, rng: np.random.Generator, cells: int, top_k: int) -> None:
    """Score ``cells`` random cells; return the proxy's best, or train its ``top_k`` best."""
    best = -math.inf
    scored = []
    for index in sim.sample(rng, cells, replace=False):
        value = sim.proxy(index)
        scored.append((value, index))
        if not top_k and value > best:
            best = value
            sim.propose(index)
    for _, index in sorted(scored, key=lambda p: -p[0])[:top_k]:
        sim.train(index)
    raise OutOfBudget  # done: the clock stops where it is


@functools.lru_cache(maxsize=1)
def _one_hot() -> np.ndarray:
    """``(15625, 30)``: the operation on each edge, one-hot (what BANANAS calls adjacency one-hot)."""
    ops = np.array([[space.OPS.index(o) for o in arch.ops] for arch in space.all_archs()])
    out = np.zeros((space.NUM_ARCHS, len(space.EDGES) * len(space.OPS)))
    out[np.arange(space.NUM_ARCHS)[:, None], np.arange(len(space.EDGES)) * len(space.OPS) + ops] = 1.0
    return out


def _model_guided(
    sim: Simulation,
    rng: np.random.Generator,
    initial: int,
    candidates: int,
    parents: int,
    warmup: int,
    cell_features: Callable[[list[int]], np.ndarray],
    acquire: Callable[[np.ndarray, np.ndarray, np.ndarray, np.random.Generator], np.ndarray],
) -> None:
    """Fit a model on every cell trained so far, train the candidate ``acquire`` values most; repeat.

    Candidates are the one-edit mutants of the ``parents`` best cells and ``candidates`` random cells;
    a cell's features are ``cell_features`` and, with a proxy, its score (an undefined one the worst)."""
    neighbours = space.neighbour_indices()
    use_proxy = sim.scorer is not None
    history: dict[int, float] = {}
    for index in _first_cells(sim, rng, initial, warmup, distinct=True):
        history[index] = sim.train(index)

    def features(indices: list[int]) -> np.ndarray:
        x = cell_features(indices)
        if use_proxy:
            scores = np.array([sim.proxy(i) for i in indices])
            x = np.column_stack([x, np.where(np.isfinite(scores), scores, np.nan)])
        return x

    while True:
        done = sorted(history, key=lambda i: -history[i])
        pool = {int(m) for p in done[:parents] for m in neighbours[p]}
        pool |= set(sim.sample(rng, candidates))
        pool -= set(history)
        pool_list = sorted(pool)
        x_train, x_pool = features(done), features(pool_list)
        if use_proxy:  # an undefined score becomes the worst defined one
            floor = np.nanmin(np.concatenate([x_train[:, -1], x_pool[:, -1]]))
            for x in (x_train, x_pool):
                x[np.isnan(x[:, -1]), -1] = floor
        value = acquire(x_train, np.array([history[i] for i in done]), x_pool, rng)
        chosen = pool_list[int(np.argmax(value))]
        history[chosen] = sim.train(chosen)


def _ridge_thompson(x_train: np.ndarray, y: np.ndarray, x_pool: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A Thompson draw from a Bayesian ridge's posterior predictive (standardised features)."""
    from sklearn.linear_model import BayesianRidge

    centre, scale = x_train.mean(axis=0), x_train.std(axis=0)
    scale[scale == 0] = 1.0  # a column constant on the trained cells carries no information yet
    model = BayesianRidge().fit((x_train - centre) / scale, y)
    mean, std = model.predict((x_pool - centre) / scale, return_std=True)
    return mean + std * rng.standard_normal(len(mean))


def _forest_expected_improvement(
    x_train: np.ndarray, y: np.ndarray, x_pool: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Expected improvement over the best trained cell, from a random forest's mean and tree spread."""
    from scipy import stats

    from ..metrics import few_shot

    model = few_shot.make_model("forest", int(rng.integers(2**31)), trees=SEARCH_TREES).fit(x_train, y)
    mean, spread = model.predict(x_pool), model.spread(x_pool)
    gain = mean - y.max()
    z = np.divide(gain, spread, out=np.zeros_like(gain), where=spread > 0)
    return np.where(spread > 0, gain * stats.norm.cdf(z) + spread * stats.norm.pdf(z), np.maximum(gain, 0.0))


SEARCH_TREES = 20  # the few-shot search refits its forest every step: fewer trees than nbcap predict's
GUIDED_DEFAULTS = {"initial": 10, "candidates": 100, "parents": 5, "warmup": 0}  # predictor and few_shot


@search_algorithm(
    "predictor",
    description="Bayesian ridge on operations (+ proxy) picks each next cell (BANANAS-like)",
    defaults=GUIDED_DEFAULTS,
    uses_proxy=True,
)
def predictor_guided(
    sim: Simulation, rng: np.random.Generator, initial: int, candidates: int, parents: int, warmup: int
) -> None:
    """Operations one-hot, Thompson sampling (White et al. 2021)."""
    _model_guided(sim, rng, initial, candidates, parents, warmup, lambda i: _one_hot()[i], _ridge_thompson)


@search_algorithm(
    "few_shot",
    description="the few-shot predictor's forest on graph features (+ proxy) picks each next cell by EI",
    defaults=GUIDED_DEFAULTS,
    uses_proxy=True,
)
def few_shot_guided(
    sim: Simulation, rng: np.random.Generator, initial: int, candidates: int, parents: int, warmup: int
) -> None:
    """GRAF-like graph features, a random forest refitted on every trained cell, expected improvement."""
    from ..metrics import few_shot

    _model_guided(sim, rng, initial, candidates, parents, warmup, few_shot.graph_features, _forest_expected_improvement)


PARAMETERS = {  # name: (smallest value, largest value, meaning)
    "population": (1, None, "cells alive in the evolution"),
    "sample": (1, None, "cells in each tournament"),
    "warmup": (0, space.NUM_ARCHS, "random cells the proxy scores to choose the first cells trained (0: none)"),
    "random_move": (0.0, 1.0, "probability of a random mutation instead of the proxy's best"),
    "cells": (1, space.NUM_ARCHS, "random cells the proxy scores"),
    "top_k": (0, space.NUM_ARCHS, "of those, the proxy's best that are trained (0: none, return the proxy's best)"),
    "initial": (1, space.NUM_ARCHS, "random cells trained before the predictor is first fitted"),
    "candidates": (1, space.NUM_ARCHS, "random cells among each round's candidates"),
    "parents": (1, space.NUM_ARCHS, "best cells whose mutants are each round's other candidates"),
}


def check_param(name: str, value: Any) -> None:
    """A parameter value in its range, of its type; the message names both."""
    low, high, meaning = PARAMETERS[name]
    kind = float if isinstance(low, float) else int
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (kind is float or isinstance(value, int))
    if not ok or value < low or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f"at least {low}"
        raise ValueError(
            f"--param {name}={value}: {name} ({meaning}) must be "
            f"{'a number' if kind is float else 'a whole number'} {bounds}"
        )


def algorithm(name: str) -> Algorithm:
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; choose from {', '.join(ALGORITHMS)}")
    return ALGORITHMS[name]
