"""The plug-in face: any registered metric as a proxy a NAS algorithm can call, with its cost counted.

A :class:`Scorer` is built once (a preset or configuration and one metric), prepares the data once,
and scores cells by whatever name the caller holds them (see :meth:`Arch.parse`). Scores are cached
per cell; with ``store=DIR`` they also persist in a results store that ``nbcap run`` writes and reads
too, so a study of the same configuration serves a search and the other way round.

Where a score comes from (``source``):

- ``"table"``: a shipped whole-space table (:func:`whole_space.table.table_for`), for the arch, zero-cost
  and aggregate metrics it holds, when the configuration's network, data, proxy batch and seed are the
  ones that table was made with (the ``quick`` preset: all 15,625 cells; ``standard``: a seeded sample,
  whose other cells are computed live); the seconds charged are those the table measured.
- ``"live"``: computed here by :func:`evaluate_architecture`; the seconds charged are measured.
- ``"auto"`` (default): the table where it applies, live otherwise.

An aggregate (``az_nas``, ``vkdnw_agg``, ``te_nas``) ranks its components over a population of cells,
so it is read from a table only (its value there is over the table's cells).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import config as config_module
from . import metrics
from .metrics import Needs
from .nb201 import space
from .nb201.space import NUM_ARCHS, Arch
from .store import identity
from .store.records import Record
from .store.results import ResultStore, StoreError, check_study, exclusive_writer, results_file
from .study.evaluate import (
    evaluate_architecture,
    metric_names,
    prepare_data,
    provenance,
    resolve_device,
    study_identity,
)

SOURCES = ("auto", "table", "live")
TABLE_DEVICE = "cpu, 1 thread per cell (the machine that made the shipped whole-space table)"


@dataclass
class Cost:
    """What scoring has cost so far: cells actually scored (cache misses) and the seconds charged."""

    calls: int = 0
    seconds: float = 0.0
    last: float = 0.0  # seconds charged by the latest cache miss
    device: str = ""

    def charge(self, seconds: float) -> None:
        self.calls += 1
        self.seconds += seconds
        self.last = seconds


class Scorer:
    """One metric as a proxy: ``score(arch) -> float`` (higher is better), ``query(archs) -> array``.

    ``metric`` is any registered metric (``metrics.available()``). ``budget`` picks the training
    budget of a trained metric (epochs; default: the configuration's last epoch), ignored by the
    training-free ones. A ``calibrated`` metric (``beta_ridge``, ``lcsvr``) must first be
    :meth:`fit` on architectures with known accuracy.
    """

    def __init__(
        self,
        metric: str,
        preset: str | None = "quick",
        *,
        config: config_module.StudyConfig | None = None,
        overrides: tuple[str, ...] | list[str] = (),
        source: str = "auto",
        store: str | os.PathLike | None = None,
        budget: str | float | None = None,
        table: str | os.PathLike | None = None,
    ):
        if not isinstance(metric, str):
            raise TypeError(f"Scorer takes a metric's name (metrics.available() lists them), got {metric!r}")
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
        if config is not None and not isinstance(config, config_module.StudyConfig):
            raise TypeError(f"config= takes a StudyConfig (nbc.load_config(...)), got {type(config).__name__}")
        self.metric = metrics.get(metric)
        self.config = config if config is not None else config_module.load(preset, overrides=overrides)
        self.budget = self._budget(budget)
        self._given_table = Path(table) if table is not None else None
        self._requested = source  # "live" also keeps a calibrated metric's features off the table
        self._table_path: Path | None = None  # the table scores are read from (set by _source)
        self.source = self._source(source, table)
        self._table = _table_column(self.metric.name, self._table_path) if self.source == "table" else None
        self._db = _store_file(store, self.config) if store is not None else None
        self._data: Any = None
        self._records: dict[int, Record] = {}
        self._on_disk: dict[int, Record] | None = None  # the store's records, read once
        self._scores: dict[int, float] = {}
        self._seconds: dict[int, float] = {}
        self._fitted: Any = None
        self._feature_table: dict[str, np.ndarray] | None = None  # a calibrated metric's features, read once
        self.cost = Cost(device=TABLE_DEVICE if self.source == "table" else "")

    # ------------------------------------------------------------------ what it needs

    @property
    def name(self) -> str:
        return self.metric.name

    @property
    def needs(self) -> Needs:
        """What scoring consumes: a training run, a calibration set (NASLib's ``get_data_reqs`` in our words)."""
        return self.metric.needs

    @property
    def store(self) -> Path | None:
        """The study folder live scores are kept in (None: kept in memory only)."""
        return self._db.parent if self._db is not None else None

    def stored_cells(self) -> set[int]:
        """The cells whose evaluation the store holds already (none without a store)."""
        self._stored(0)  # reads the store once
        return set(self._on_disk or {})

    def keep_in(self, store: str | os.PathLike) -> Scorer:
        """Keep live scores from now on in ``store`` (a study folder of this configuration, checked now)."""
        self._db, self._on_disk = _store_file(store, self.config), None
        return self

    @property
    def identity(self) -> dict[str, Any]:
        """What fixes this scorer's scores and charged seconds (part of a search setting's identity)."""
        device = TABLE_DEVICE if self.source == "table" else str(resolve_device(self.config.run.device))
        table = str(self._given_table) if self._given_table is not None else ""  # a shipped table is the preset's
        return identity.proxy_scoring(self.source, self.budget, study_identity(self.config), device, table)

    def get_data_reqs(self) -> dict[str, Any]:
        """NASLib's data requirements dict, plus ``training``/``calibration``/``epochs`` in our terms."""
        return {
            "requires_partial_lc": False,  # a trained metric trains the cell itself, at the preset's budget
            "metric": None,
            "requires_hyperparameters": False,
            "hyperparams": None,
            "unlabeled": False,
            "unlabeled_factor": 0,
            "training": self.needs.training,
            "calibration": self.needs.calibration,
            "epochs": self.config.train.epochs if self.needs.training else 0,
        }

    # ------------------------------------------------------------------ scoring

    def score(self, arch: Any) -> float:
        """The metric's score of one cell (higher is better; NaN where it is undefined for the cell)."""
        index = _index(arch)
        if index not in self._scores:
            if self.metric.kind == "calibrated":
                if self._fitted is None:
                    raise ValueError(
                        f"{self.name} is fitted on a calibration set of architectures: "
                        "call fit(archs, accuracies) first"
                    )
                self._scores[index] = float(self._fitted.predict([self.record(index)])[0])
            elif self._table is not None and not math.isnan(self._table[0][index]):
                self._scores[index] = float(self._table[0][index])
                seconds = float(self._table[1][index]) if self._table[1] is not None else 0.0
                self._seconds[index] = 0.0 if math.isnan(seconds) else seconds
                self.cost.charge(self._seconds[index])
            elif self.metric.kind == "aggregate":
                raise ValueError(f"cell {index} is not in the table {self._table_path}: {self.name} has no value there")
            else:  # live, or a cell that a sample table does not hold
                self._scores[index] = self.record(index).score(self.name, self.budget)
        return self._scores[index]

    def query(self, archs: Any) -> np.ndarray:
        """Scores of many cells, in order."""
        return np.array([self.score(a) for a in cells_of(archs, "query")], dtype=float)

    def seconds(self, arch: Any) -> float:
        """The seconds scoring this cell costs (measured once; a cached score is not charged again here)."""
        index = _index(arch)
        self.score(index)
        return self._seconds[index]

    def fit(self, archs: Any, accuracies: Any) -> Scorer:
        """Fit a calibrated metric on cells with known accuracy; a no-op for the others (as in NASLib)."""
        if self.metric.kind != "calibrated":
            return self
        from .metrics.calibrated import MIN_CALIBRATION

        cells, values = cells_of(archs, "fit"), np.asarray(accuracies, dtype=float).reshape(-1)
        if len(cells) != len(values):
            raise ValueError(f"fit takes one accuracy per cell: got {len(cells)} cells and {len(values)} accuracies")
        known = int(np.isfinite(values).sum())
        if known < MIN_CALIBRATION:
            raise ValueError(
                f"{self.name} is fitted on at least {MIN_CALIBRATION} cells with a known accuracy, got {known}"
            )
        records = [self.record(a) for a in cells]
        self._fitted = self.metric.fit(records, values, self.budget, self.config.run.seed)
        self._scores.clear()
        return self

    def record(self, arch: Any) -> Record:
        """The cell's evaluation under this configuration: from the cache, the store, or computed now."""
        index = _index(arch)
        if index not in self._records:
            record = self._stored(index) or self._from_table(index) or self._evaluate(index)
            if record["status"] == "failed":
                raise RuntimeError(f"scoring cell {index} failed: {record['reason']}")
            self._records[index] = record
            self._seconds.setdefault(index, _charged_seconds(record, self.metric))
            self.cost.charge(self._seconds[index])
        return self._records[index]

    # ------------------------------------------------------------------ internals

    def _budget(self, budget: str | float | None) -> str:
        if not self.metric.needs.training:
            return "0"
        if self.config.train.epochs < 1:
            raise ValueError(f"{self.metric.name} needs training: give a preset or config with train.epochs >= 1")
        chosen = self.config.train.epochs if budget is None else budget
        try:
            value = float(chosen)
        except (TypeError, ValueError):
            value = float("nan")
        if not 0 <= value <= self.config.train.epochs:
            raise ValueError(
                f"budget= is the training budget in epochs the score is read at, 0..{self.config.train.epochs} "
                f"(train.epochs), got {budget!r}"
            )
        return metrics.epoch_key(value)

    def _source(self, source: str, table: str | os.PathLike | None) -> str:
        from .whole_space.table import reference_columns, table_for

        shipped = table_for(self.config)
        usable = self.metric.kind in ("arch", "init", "aggregate") and (
            table is not None or (shipped is not None and self.name in reference_columns(shipped[0]))
        )
        if self.metric.kind == "aggregate" and (source == "live" or not usable):
            raise ValueError(
                f"{self.name} ranks its components over a population of cells, so it is read from a whole-space "
                "table (table=FILE, or a preset with a shipped table that holds it), or compared with nbcap compare"
            )
        if source == "table" and not usable:
            where = f"the shipped {shipped[1]!r} table" if shipped else "no shipped table fits this configuration"
            raise ValueError(
                f"{self.name} is not in a whole-space table for this configuration ({where}); pass table=FILE "
                "(a space.csv of nbcap space) or use source='live'"
            )
        if source == "table" or (source == "auto" and usable):
            self._table_path = Path(table) if table is not None else shipped[0] if shipped else None
            return "table"
        return "live"

    def _from_table(self, index: int) -> Record | None:
        """A calibrated metric's training-free features from the shipped table, when it holds them all for
        this cell (charged the seconds the table measured); None otherwise."""
        reads = self.metric.calibration.reads if self.metric.calibration is not None else None
        if not reads or self._requested == "live":
            return None
        if self._feature_table is None:
            from .whole_space.table import reference_table, table_for

            shipped = table_for(self.config)
            path = self._given_table or (shipped[0] if shipped else None)
            self._feature_table = reference_table(path) if path is not None else {}
        table = self._feature_table
        if not all(n in table and np.isfinite(table[n][index]) for n in reads):
            return None
        record = Record(index, space.arch_from_index(index).to_string(), status="ok")
        record["metrics"] = {n: {"0": float(table[n][index])} for n in reads}
        seconds = {n: table[f"time_{n}"][index] if f"time_{n}" in table else 0.0 for n in reads}
        record["timings"] = {f"zc_{n}": float(np.nan_to_num(s)) for n, s in seconds.items()}
        record["timings"]["wall"] = math.fsum(record["timings"].values())
        return record

    def _names(self) -> list[str]:
        """What one evaluation computes: everything a study of this configuration stores (with a store,
        so the records serve ``nbcap run`` too), else what this metric reads."""
        reads = self.metric.calibration.reads if self.metric.calibration is not None else None
        if self._db is None and reads is not None:
            return list(reads)
        if self._db is not None or self.metric.kind == "calibrated":
            names = metric_names(self.config)
            return names if self._db is not None else [n for n in names if metrics.get(n).kind == "curve"]
        return [self.name]

    def _evaluate(self, index: int) -> Record:
        if self._data is None and (self.needs.network or self.needs.training):
            self._data = prepare_data(self.config)
        record = evaluate_architecture(index, self.config, self._data, self._names())
        if not self.cost.device:
            self.cost.device = f"{record['extra'].get('device', '?')}, {record['extra'].get('threads', '?')} threads"
        if self._db is not None and record["status"] != "failed":
            self._write(record)
        return record

    def _stored(self, index: int) -> Record | None:
        if self._db is None:
            return None
        if self._on_disk is None:
            self._on_disk = {}
            if self._db.is_file():  # read only: a store of another configuration is left untouched
                with ResultStore(self._db) as store:
                    run_id = store.find_run(study_identity(self.config))
                    self._on_disk = {r["index"]: r for r in store.records(run_id)} if run_id is not None else {}
        return self._on_disk.get(index)

    def _write(self, record: Record) -> None:

        assert self._db is not None
        with exclusive_writer(self._db), ResultStore(self._db) as store:  # the run `nbcap run` of this config uses
            run_id = store.start_run(
                study_identity(self.config), provenance(self.config, resolve_device(self.config.run.device))
            )
            store.add_record(run_id, record)


def cells_of(archs: Any, method: str) -> list[Any]:
    """A sequence of cells (one cell is refused: ``query([cell])`` scores one)."""
    if isinstance(archs, (str, int, np.integer, Arch)) or not hasattr(archs, "__iter__"):
        raise TypeError(f"{method} takes a list of cells (indices, strings, NASLib tuples or graphs), got {archs!r}")
    return list(archs)


def _store_file(store: str | os.PathLike, config: config_module.StudyConfig) -> Path:
    """The store a scorer keeps its live scores in: a study folder of its configuration, checked now."""
    folder = Path(store)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"store={store} is a file: give a folder (it is made if missing)")
    try:
        check_study(folder, study_identity(config), False, None)
        if results_file(folder).is_file():
            with ResultStore(results_file(folder)):  # a damaged store is named now, before any work
                pass
    except StoreError as exc:
        raise ValueError(str(exc)) from None
    return results_file(folder)


def _index(arch: Any) -> int:
    """The official index of any cell name; an index passes straight through (searches call this a lot)."""
    if isinstance(arch, (int, np.integer)) and not isinstance(arch, bool) and 0 <= arch < NUM_ARCHS:
        return int(arch)
    return Arch.parse(arch).index


def _table_column(name: str, path: str | os.PathLike | None) -> tuple[np.ndarray, np.ndarray | None]:
    from .whole_space.table import reference_table

    """A metric's scores in the table and the seconds each cost: an aggregate costs its components'."""
    table = reference_table(path)
    if name not in table:
        raise ValueError(f"{name} is not a column of the whole-space table {path or '(shipped)'}")
    seconds = table.get(f"time_{name}")
    spec = metrics.get(name).aggregate
    if seconds is None and spec is not None:
        parts = [table[f"time_{c}"] for c in spec.components if f"time_{c}" in table]
        seconds = np.nansum(parts, axis=0) if parts else None
    return table[name], seconds


def _charged_seconds(record: Record, metric: metrics.Metric) -> float:
    """The seconds one cell's score of ``metric`` cost: its proxy pass, or the training run it reads."""
    timings = record["timings"]
    if metric.kind == "init":
        return float(timings.get(f"zc_{metric.name}", 0.0))
    if metric.kind == "arch":
        return 0.0  # counted from the cell's operations: microseconds
    if metric.calibration is not None and metric.calibration.reads is not None:
        return float(timings.get("wall", 0.0))  # the training-free metrics its features read
    # fsum: the same seconds whatever the order of the keys (a stored record sorts them)
    proxies = math.fsum(v for k, v in timings.items() if k.startswith("zc_"))
    return float(timings.get("wall", 0.0)) - proxies  # the training run and the kernel
