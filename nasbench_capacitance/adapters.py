"""A :class:`~nasbench_capacitance.scorer.Scorer` in the shapes two NAS libraries call, without importing them.

- :class:`NaslibPredictor`: NASLib's predictor contract (``naslib/predictors/predictor.py``):
  ``pre_process``, ``pre_compute``, ``fit``, ``query``, ``get_data_reqs``. Cells may be NASLib NB201
  graphs (``get_op_indices()``), op-index tuples, NB201 strings or indices.
- :class:`SimulatedAPI`: the part of xautodl's NATS-Bench API its search algorithms
  (``exps/NATS-algos``) call: ``simulate_train_eval``, ``reset_time``, ``used_time``,
  ``query_index_by_arch`` and ``get_more_info``. Without a scorer, "training" returns NB201's 12-epoch
  validation accuracy and charges its seconds (:mod:`.search.simulation`); with one, it returns the
  proxy's score and charges the proxy's seconds, so xautodl's algorithms search with our metric.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .nb201.space import Arch
from .scorer import Scorer, cells_of
from .search.simulation import Benchmark


def _a_scorer(scorer: Any, owner: str) -> Scorer:
    if not isinstance(scorer, Scorer):
        raise TypeError(f"{owner} takes a Scorer, e.g. {owner}(Scorer('nwot')), got {scorer!r}")
    return scorer


class NaslibPredictor:
    """A scorer as a NASLib predictor: ``query`` returns its scores (higher is better)."""

    def __init__(self, scorer: Scorer):
        self.scorer = _a_scorer(scorer, "NaslibPredictor")
        self.ss_type: str | None = None

    def set_ss_type(self, ss_type: str) -> None:
        if "201" not in ss_type:
            raise ValueError(f"this predictor scores NAS-Bench-201 cells, not search space {ss_type!r}")
        self.ss_type = ss_type

    def pre_process(self) -> None:
        """Called before the search starts: nothing to do, the scorer prepared its data when it was built."""

    def pre_compute(self, xtrain: Any, xtest: Any, unlabeled: Any = None) -> None:
        """Score the cells ahead of ``fit``/``query`` (NASLib's hook for zero-cost predictors); cached."""
        if not self.scorer.needs.calibration:
            cells = [cells_of(x, "pre_compute") for x in (xtrain, xtest, unlabeled) if x is not None]
            self.scorer.query([c for part in cells for c in part])

    def fit(self, xtrain: Any, ytrain: Any, train_info: Any = None, **_: Any) -> None:
        """Calibrated metrics are fitted on the training cells; the others need no fitting (as NASLib's ZeroCost)."""
        self.scorer.fit(cells_of(xtrain, "fit"), ytrain)

    def query(self, xtest: Any, info: Any = None, **_: Any) -> np.ndarray:
        return self.scorer.query(cells_of(xtest, "query"))

    def get_data_reqs(self) -> dict[str, Any]:
        return self.scorer.get_data_reqs()

    def requires_partial_training(self, xtest: Any = None) -> bool:
        return False  # a trained metric trains the cell itself; NASLib supplies no learning curve


class SimulatedAPI:
    """xautodl's NATS-Bench API as its search algorithms use it, on the simulated clock."""

    def __init__(self, table: str | os.PathLike | None = None, scorer: Scorer | None = None):
        from . import paths

        self._table = Path(table) if table is not None else paths.ground_truth_table()
        if not self._table.is_file():
            raise ValueError(f"table={self._table}: no such NB201 table; give the CSV (data/nb201/nb201_merged.csv.gz)")
        self._benchmarks: dict[str, Benchmark] = {}
        self.scorer = _a_scorer(scorer, "SimulatedAPI") if scorer is not None else None
        self.used_time = 0.0

    def _bench(self, dataset: str) -> Benchmark:
        name = "cifar10" if dataset in ("cifar10", "cifar10-valid") else dataset
        if name not in self._benchmarks:
            self._benchmarks[name] = Benchmark(self._table, name)
        return self._benchmarks[name]

    def reset_time(self) -> None:
        self.used_time = 0.0

    def query_index_by_arch(self, arch: Any) -> int:
        return Arch.parse(arch).index

    def simulate_train_eval(
        self, arch: Any, dataset: str, iepoch: int | None = None, hp: str = "12", account_time: bool = True
    ) -> tuple[float, float, float, float]:
        """``(validation accuracy or proxy score, latency, time cost, total time)``, as xautodl returns them.

        Only ``hp="12"`` exists offline; latency is not available and is returned as NaN.
        """
        if hp != "12" or iepoch is not None:
            raise ValueError("only NB201's 12-epoch results are available offline: hp='12', iepoch=None")
        index = Arch.parse(arch).index
        bench = self._bench(dataset)
        if self.scorer is None:
            value, cost = float(bench.signal[index]), float(bench.cost[index])
        else:
            value, cost = self.scorer.score(index), self.scorer.seconds(index) / bench.seconds_per_unit
        if account_time:
            self.used_time += cost
        return value, float("nan"), cost, self.used_time

    def get_more_info(
        self, index: Any, dataset: str, iepoch: int | None = None, hp: str = "200", is_random: bool = False
    ) -> dict:
        """The 200-epoch test accuracy of a cell, under xautodl's key; read this for the returned cell only."""
        if hp != "200":
            raise ValueError("get_more_info reports the 200-epoch result here: hp='200'")
        return {"test-accuracy": float(self._bench(dataset).test[Arch.parse(index).index])}
