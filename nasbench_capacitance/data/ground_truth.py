"""Ground truth: a compact per-architecture table with an explicit target, and its import.

A *target* names one accuracy column by what it means: dataset, evaluation split and training
epochs. There is no default target, and the 12-epoch columns (NB201 ``hp='12'``, a compressed full
schedule, not early training) are never offered as ground truth unless asked for by name with
``allow_short_training=True``.

The compact table is a CSV with columns ``index``, ``arch_str`` and accuracy/cost columns (the
``data/nb201/nb201_merged.csv.gz`` shipped with the repository is one). :func:`import_official` writes
such a table from the official NB201 ``.pth`` or NATS-Bench topology ``.pickle.pbz2`` file through the
``nas-bench-201`` API.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import os
import pickle
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..nb201.space import NUM_ARCHS, Arch


class GroundTruthError(LookupError):
    """A ground-truth file, target or architecture the user asked for is missing or malformed."""

    def __str__(self) -> str:  # LookupError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Target:
    column: str
    dataset: str
    split: str
    epochs: int
    note: str

    @property
    def label(self) -> str:
        return f"{self.dataset} / {self.split} / {self.epochs} epochs ({self.column})"


_T = Target
TARGETS: dict[str, Target] = {
    t.column: t
    for t in (
        _T(
            "c10valid_xvalid_200_v10",
            "cifar10-valid",
            "x-valid",
            200,
            "trained on 25k, validated on the other 25k; NB201 v1_0, mean over seeds",
        ),
        _T(
            "c10valid_xvalid_200", "cifar10-valid", "x-valid", 200, "as imported from an official file, mean over seeds"
        ),
        _T(
            "c10valid_oritest_200_v10",
            "cifar10-valid",
            "ori-test",
            200,
            "trained on 25k, CIFAR-10 test set; NB201 v1_0",
        ),
        _T("c10valid_oritest_200", "cifar10-valid", "ori-test", 200, "as imported from an official file"),
        _T("c10_test_200", "cifar10", "ori-test", 200, "trained on 50k, CIFAR-10 test set, mean over seeds"),
        _T(
            "c10_test_200_v10",
            "cifar10",
            "ori-test",
            200,
            "the same quantity from NB201 v1_0 (fewer seeds for some cells)",
        ),
        _T("c100_test_200", "cifar100", "x-test", 200, "CIFAR-100 x-test, mean over seeds"),
        _T("c100_xvalid_200", "cifar100", "x-valid", 200, "as imported from an official file"),
        _T("in16_test_200", "ImageNet16-120", "x-test", 200, "ImageNet16-120 x-test, mean over seeds"),
        _T("in16_xvalid_200", "ImageNet16-120", "x-valid", 200, "as imported from an official file"),
        _T("c10_test_12", "cifar10", "ori-test", 12, "12-epoch schedule (hp='12'): a cheap proxy, not ground truth"),
        _T("c10valid_xvalid_12", "cifar10-valid", "x-valid", 12, "12-epoch schedule: a cheap proxy, not ground truth"),
        _T("c100_xtest_12", "cifar100", "x-test", 12, "12-epoch schedule: a cheap proxy, not ground truth"),
        _T("c100_xvalid_12", "cifar100", "x-valid", 12, "12-epoch schedule: a cheap proxy, not ground truth"),
        _T("in16_xtest_12", "ImageNet16-120", "x-test", 12, "12-epoch schedule: a cheap proxy, not ground truth"),
        _T("in16_xvalid_12", "ImageNet16-120", "x-valid", 12, "12-epoch schedule: a cheap proxy, not ground truth"),
    )
}
STANDARD_TARGETS: tuple[str, ...] = ("c10valid_xvalid_200_v10", "c10_test_200", "c100_test_200", "in16_test_200")
DEGENERATE_ACCURACY = 10.5  # cells at chance level (e.g. all-`none`); reported separately


def resolve_target(spec: str, columns: Iterable[str] | None = None, allow_short_training: bool = False) -> Target:
    """A target from its column name or ``dataset/split/epochs`` (e.g. ``cifar10-valid/x-valid/200``)."""
    columns = set(columns) if columns is not None else None
    usable = [t for t in TARGETS.values() if columns is None or t.column in columns]
    if spec in TARGETS:
        target = TARGETS[spec]
    else:
        parts = spec.split("/") if isinstance(spec, str) else []
        matches = [t for t in usable if len(parts) == 3 and (t.dataset, t.split, str(t.epochs)) == tuple(parts)]
        if not matches:
            offered = ", ".join(t.column for t in usable if t.epochs == 200)
            raise GroundTruthError(
                f"unknown ground-truth target {spec!r}. Give a column name or dataset/split/epochs; "
                f"200-epoch targets{' in this table' if columns is not None else ''}: {offered}"
            )
        target = matches[0]
    if columns is not None and target.column not in columns:
        raise GroundTruthError(
            f"target {target.column!r} is not a column of this table; its columns: {', '.join(sorted(columns))}"
        )
    if target.epochs != 200 and not allow_short_training:
        raise GroundTruthError(
            f"target {target.column!r} is a {target.epochs}-epoch result ({target.note}); pass "
            "allow_short_training=True to use it anyway, or choose a 200-epoch target such as c10valid_xvalid_200_v10"
        )
    return target


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    if not path.is_file():
        raise GroundTruthError(
            f"ground-truth table {path} not found. Set NBCAP_DATA to the folder holding nb201/nb201_merged.csv "
            "(the repository ships data/nb201/nb201_merged.csv.gz), or convert the official NB201 file with "
            "benchmark.import_official"
        )
    name = path.name.lower()
    if not name.endswith((".csv", ".txt", ".csv.gz")):
        raise GroundTruthError(f"{path}: ground-truth tables are CSV files, plain or .csv.gz (got {path.name})")
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = list(reader.fieldnames or [])
    missing = [c for c in ("index", "arch_str") if c not in columns]
    if missing:
        raise GroundTruthError(f"malformed ground-truth table {path}: missing column(s) {', '.join(missing)}")
    return columns, rows


def _numeric(rows: list[dict[str, str]], column: str, path: Path) -> np.ndarray:
    values = np.empty(len(rows))
    for n, row in enumerate(rows):
        text = (row.get(column) or "").strip()
        try:
            values[n] = float(text) if text else np.nan
        except ValueError:
            raise GroundTruthError(
                f"malformed ground-truth table {path}: row {n + 2}, column {column!r} is {text!r}, not a number"
            ) from None
    return values


def read_columns(path: str | os.PathLike, names: Iterable[str], purpose: str) -> dict[str, np.ndarray]:
    """Numeric columns of a ground-truth table, each by NB201 index (NaN where a cell is absent).

    ``purpose`` completes the error naming missing columns ("the search on cifar10 needs ...").
    """
    path = Path(path)
    columns, rows = _read_table(path)
    names = list(names)
    missing = [n for n in names if n not in columns]
    if missing:
        raise GroundTruthError(
            f"{purpose} needs column(s) {', '.join(missing)}, which {path} lacks; the shipped "
            "data/nb201/nb201_merged.csv.gz has them"
        )
    indices = _numeric(rows, "index", path).astype(np.int64)
    out = {}
    for name in names:
        full = np.full(NUM_ARCHS, np.nan)
        full[indices] = _numeric(rows, name, path)
        out[name] = full
    return out


class GroundTruth:
    """Accuracies of one explicit target, by NB201 index, with the table's provenance."""

    def __init__(
        self,
        path: Path,
        target: Target,
        indices: np.ndarray,
        values: np.ndarray,
        columns: Mapping[str, np.ndarray],
        checksum: str,
    ):
        self.path, self.target, self.checksum = path, target, checksum
        self._by_index = np.full(NUM_ARCHS, np.nan)
        self._present = np.zeros(NUM_ARCHS, dtype=bool)
        self._by_index[indices] = values
        self._present[indices] = True
        self._columns = {}
        for name, col in columns.items():
            full = np.full(NUM_ARCHS, np.nan)
            full[indices] = col
            self._columns[name] = full

    @classmethod
    def from_table(cls, path: str | os.PathLike, target: str, allow_short_training: bool = False) -> GroundTruth:
        """Load a compact CSV table; ``target`` is required (see :data:`STANDARD_TARGETS`)."""
        path = Path(path)
        columns, rows = _read_table(path)
        tgt = resolve_target(target, columns, allow_short_training)
        indices = _numeric(rows, "index", path)
        if (
            np.isnan(indices).any()
            or (indices != np.round(indices)).any()
            or indices.min() < 0
            or indices.max() >= NUM_ARCHS
        ):
            raise GroundTruthError(
                f"malformed ground-truth table {path}: 'index' must hold integers 0..{NUM_ARCHS - 1}"
            )
        indices = indices.astype(np.int64)
        if len(np.unique(indices)) != len(indices):
            raise GroundTruthError(f"malformed ground-truth table {path}: duplicate indices")
        for n, row in enumerate(rows):
            try:
                arch = Arch.from_string(row["arch_str"])
            except ValueError as exc:
                raise GroundTruthError(f"malformed ground-truth table {path}: row {n + 2}: {exc}") from None
            if arch.index != indices[n]:
                raise GroundTruthError(
                    f"malformed ground-truth table {path}: row {n + 2} pairs index {indices[n]} "
                    f"with {row['arch_str']}, "
                    f"whose official NB201 index is {arch.index}"
                )
        extra = {c: _numeric(rows, c, path) for c in columns if c.startswith(("params_", "flops_"))}
        return cls(path, tgt, indices, _numeric(rows, tgt.column, path), extra, _sha256(path))

    def _index(self, arch_or_index: Arch | str | int) -> int:
        index = Arch.parse(arch_or_index).index
        if not self._present[index]:
            raise GroundTruthError(
                f"architecture {index} ({Arch.parse(index).to_string()}) is not in the table {self.path}"
            )
        return index

    def accuracy(self, arch_or_index: Arch | str | int) -> float:
        """Accuracy in percent of one architecture (string, index or Arch); NaN where the table has none."""
        return float(self._by_index[self._index(arch_or_index)])

    def accuracies(self, indices: Iterable[int]) -> np.ndarray:
        return np.array([self.accuracy(int(i)) for i in indices])

    def column(self, name: str, indices: Iterable[int]) -> np.ndarray:
        """A cost column (``params_*``/``flops_*``) for the given indices."""
        if name not in self._columns:
            raise GroundTruthError(
                f"column {name!r} is not in {self.path}; available: {', '.join(sorted(self._columns)) or 'none'}"
            )
        return np.array([self._columns[name][self._index(int(i))] for i in indices])

    @property
    def indices(self) -> np.ndarray:
        return np.flatnonzero(self._present)

    def provenance(self) -> dict[str, Any]:
        return {"table": str(self.path), "sha256": self.checksum, **asdict(self.target)}


# ----------------------------------------------------------------------------- import from official files

# (column, dataset, metric key of get_more_info, hp)
IMPORT_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("c10valid_xvalid_200", "cifar10-valid", "valid-accuracy", "200"),
    ("c10valid_oritest_200", "cifar10-valid", "test-accuracy", "200"),
    ("c10_test_200", "cifar10", "test-accuracy", "200"),
    ("c100_test_200", "cifar100", "test-accuracy", "200"),
    ("c100_xvalid_200", "cifar100", "valid-accuracy", "200"),
    ("in16_test_200", "ImageNet16-120", "test-accuracy", "200"),
    ("in16_xvalid_200", "ImageNet16-120", "valid-accuracy", "200"),
    ("c10_test_12", "cifar10", "test-accuracy", "12"),
    ("c10valid_xvalid_12", "cifar10-valid", "valid-accuracy", "12"),
    ("c100_xtest_12", "cifar100", "test-accuracy", "12"),
    ("c100_xvalid_12", "cifar100", "valid-accuracy", "12"),
    ("in16_xtest_12", "ImageNet16-120", "test-accuracy", "12"),
    ("in16_xvalid_12", "ImageNet16-120", "valid-accuracy", "12"),
)
COST_DATASETS = (("c10", "cifar10"), ("c100", "cifar100"), ("in16", "ImageNet16-120"))


def _load_pickled_benchmark(path: Path, trust_pickle: bool) -> dict:
    if not path.is_file():
        raise GroundTruthError(f"official benchmark file {path} not found")
    if not trust_pickle:
        raise PermissionError(
            f"{path} is a pickle: loading it can run arbitrary code. Only load files from a source you trust, "
            "and then pass trust_pickle=True (command line: --trust-pickle)"
        )
    if path.name.endswith(".pbz2"):
        with bz2.open(path, "rb") as f:
            return pickle.load(f)
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)


def nats_to_nb201_dict(nats: Mapping[str, Any]) -> dict:
    """NATS-Bench topology (hp-keyed ``'12'``/``'200'`` results) to the NB201 layout (``less``/``full``)."""
    arch2infos = {}
    for index, by_hp in nats["arch2infos"].items():
        if "200" not in by_hp:
            raise GroundTruthError(f"NATS entry {index} has no 200-epoch results (keys {sorted(by_hp)})")
        arch2infos[index] = {"full": by_hp["200"], "less": by_hp.get("12", by_hp["200"])}
    return {"meta_archs": nats["meta_archs"], "arch2infos": arch2infos, "evaluated_indexes": nats["evaluated_indexes"]}


def _query(api, index: int, dataset: str, key: str, hp: str) -> float:
    try:
        return float(api.get_more_info(index, dataset, hp=hp, is_random=False)[key])
    except (KeyError, ValueError, TypeError, AssertionError):
        return float("nan")


def import_official(source: str | os.PathLike | Mapping, out: str | os.PathLike, trust_pickle: bool = False) -> Path:
    """Convert an official NB201 ``.pth`` or NATS-Bench topology ``.pickle.pbz2`` file (or its dict) to a compact CSV.

    Every accuracy is the mean over seeds (``is_random=False``) with an explicit ``hp``; 12-epoch
    columns carry ``_12`` in their names. Costs come from ``get_cost_info(..., hp='200')``.
    """
    from nas_201_api import NASBench201API

    if isinstance(source, Mapping):
        bench = dict(source)
    else:
        bench = _load_pickled_benchmark(Path(source), trust_pickle)
    if "arch2infos" in bench and bench["arch2infos"]:
        first = next(iter(bench["arch2infos"].values()))
        if "full" not in first and "200" in first:
            bench = nats_to_nb201_dict(bench)
    try:
        api = NASBench201API(bench, verbose=False)
    except (AssertionError, KeyError, TypeError) as exc:
        raise GroundTruthError(f"not an NB201 / NATS-Bench topology benchmark: {exc}") from exc
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = ["index", "arch_str"] + [c[0] for c in IMPORT_COLUMNS]
    header += [f"{kind}_{short}" for short, _ in COST_DATASETS for kind in ("params_mb", "flops_m")]
    tmp = out.with_suffix(out.suffix + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for index in sorted(api.evaluated_indexes):
            arch = Arch.from_string(api.meta_archs[index])
            if arch.index != index:
                raise GroundTruthError(
                    f"benchmark index {index} holds {api.meta_archs[index]}, whose NB201 index is {arch.index}"
                )
            row: list[Any] = [index, arch.to_string()]
            row += [_query(api, index, ds, key, hp) for _, ds, key, hp in IMPORT_COLUMNS]
            for _, ds in COST_DATASETS:
                try:
                    cost = api.get_cost_info(index, ds, hp="200")
                    row += [float(cost["params"]), float(cost["flops"])]
                except (KeyError, ValueError):
                    row += [float("nan"), float("nan")]
            writer.writerow(["" if isinstance(v, float) and np.isnan(v) else v for v in row])
    os.replace(tmp, out)
    return out
