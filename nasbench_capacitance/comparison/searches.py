"""What a compared metric buys a search: the simulated clock with it, with the best built-in proxy, and
without a proxy, on the comparison's cells (the whole space, or the sample as the searches' pool).

A metric is read from the comparison's own table (``OUT/scores.csv``) and charged the seconds there:
measured for a built-in or a plug-in, the stated or recorded ones for imported scores. ``moves``
scores mutants anywhere in the space, so it runs only when the metric covers every cell.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TextIO

from .. import paths
from ..scorer import Scorer
from ..search.algorithms import algorithm
from ..search.experiment import write_search_report
from ..search.simulation import Benchmark
from ..search.study import Setting, run_searches
from ..store.results import SEARCH_DB
from .job import Comparison

BUDGETS = (1000.0, 3000.0, 12000.0)  # simulated seconds on CIFAR-10
SEEDS = 100
SEARCH = "search"  # inside OUT: the search study's folder


def settings(comp: Comparison, proxies: list[str], scorers: dict, horizon: float, pool_label: str) -> list[Setting]:
    """random and REA, then for each proxy: its best of 10 and of 100 cells, REA warm-started from its best
    cells, and (over the whole space) REA moved by it."""
    defaults = {name: algorithm(name).defaults for name in ("rea", "proxy", "warmup", "moves")}
    warmup = min(defaults["warmup"]["warmup"], len(comp.cells))
    out = [
        Setting("random", None, "cifar10", horizon, {}, {}, pool_label),
        Setting("rea", None, "cifar10", horizon, dict(defaults["rea"]), {}, pool_label),
    ]
    for proxy in proxies:
        scoring = scorers[proxy].identity
        out += [
            Setting("proxy", proxy, "cifar10", horizon, {**defaults["proxy"], "cells": cells}, scoring, pool_label)
            for cells in (10, 100)
            if cells <= len(comp.cells)
        ]
        out.append(
            Setting("warmup", proxy, "cifar10", horizon, {**defaults["warmup"], "warmup": warmup}, scoring, pool_label)
        )
        if comp.whole_space:
            out.append(Setting("moves", proxy, "cifar10", horizon, dict(defaults["moves"]), scoring, pool_label))
    return out


def search_rows(
    comp: Comparison, best: str, table: Path, out: Path, seeds: int = SEEDS, stream: TextIO | None = None
) -> list[dict]:
    """Run the searches (resumable, ``OUT/search``) and return their summary rows."""
    stream = stream if stream is not None else sys.stderr
    pool = None if comp.whole_space else comp.cells
    bench = Benchmark(paths.ground_truth_table(), "cifar10", pool=pool)
    proxies = list(dict.fromkeys([*comp.names, best]))
    scorers: dict[str | None, object] = {None: None}
    for name in proxies:
        scorers[name] = Scorer(name, config=comp.cfg, source="table", table=table)
    label = "" if comp.whole_space else f"the comparison's {len(comp.cells)} cells"
    chosen = settings(comp, proxies, scorers, max(BUDGETS), label)
    folder = out / SEARCH
    run_searches(folder / SEARCH_DB, chosen, range(seeds), bench, scorers, stream)
    write_search_report(folder, list(BUDGETS), range(seeds), bench, stream, {s.key for s in chosen})
    with open(folder / "summary.csv", newline="") as f:
        return list(csv.DictReader(f))
