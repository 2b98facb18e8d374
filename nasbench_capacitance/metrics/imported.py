"""Scores computed elsewhere (on a GPU, in another tool, published files) as metrics of the registry.

Two formats, read as they are:

- a CSV with an ``index`` or ``arch_str`` column and one column per score (an empty cell: no score for
  that cell); a ``time_<score>`` column, where there is one, gives the seconds each cell cost;
- NASLib's zero-cost JSON (``zc_nasbench201.json``): ``{dataset: {op-index tuple: {proxy: {score, time}}}}``,
  optionally under a ``nasbench201`` key; the CIFAR-10 entries are read.

Each score becomes a metric of kind ``arch`` (a value per cell, nothing to compute), its origin
``imported:<file>``; higher is better unless ``signs`` says -1. A score of ±inf reads as ±1e9, as
NASLib's evaluator reads it (such a cell ranks last or first). Coverage may be partial: a cell the
file does not score (an empty cell, NaN) is NaN, and every statistic says how many cells it rests on.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..nb201.space import NUM_ARCHS, Arch
from . import _ORIGIN, REGISTRY, Inputs, Values, metric

NASLIB_FIELDS = ("idx", "arch", "val_accuracy")  # per-cell entries of NASLib's file that are no score
NASLIB_DATASET = "cifar10"


class ScoresError(ValueError):
    """A scores file that cannot be read as given; the message names the row or column and the fix."""


@dataclass
class ImportedScores:
    """The scores of one file, by NB201 index (NaN where a cell has none), and their seconds per cell."""

    path: Path
    columns: dict[str, np.ndarray]
    seconds: dict[str, np.ndarray] = field(default_factory=dict)

    def coverage(self, name: str) -> int:
        return int(np.isfinite(self.columns[name]).sum())


def _cell(text: str, by: str, where: str) -> int:
    try:
        arch = Arch.parse(int(text)) if by == "index" else Arch.from_string(text)
    except ValueError as exc:
        raise ScoresError(f"{where}: {by} {text!r} is not an NB201 cell ({exc})") from None
    return arch.index


INFINITE_SCORE = 1e9  # NASLib's evaluator reads a score of ±inf (an undefined proxy value) as ±1e9


def _number(text: str, where: str) -> float:
    if text.strip() == "":
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise ScoresError(f"{where}: {text!r} is not a number (leave the cell empty for no score)") from None
    return math.copysign(INFINITE_SCORE, value) if math.isinf(value) else value


def _read_csv(path: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        by = "index" if "index" in header else "arch_str" if "arch_str" in header else ""
        if not by:
            raise ScoresError(f"{path}: the first row must name an index or an arch_str column, got {header}")
        names = [c for c in header if c not in ("index", "arch_str") and not c.startswith("time_")]
        if not names:
            raise ScoresError(f"{path} has no score column beside {by}")
        columns = {n: np.full(NUM_ARCHS, np.nan) for n in names}
        timed = [c[5:] for c in header if c.startswith("time_") and c[5:] in names]
        seconds = {n: np.full(NUM_ARCHS, np.nan) for n in timed}
        seen: dict[int, int] = {}
        for row_number, row in enumerate(reader, start=2):
            where = f"{path}, row {row_number}"
            index = _cell(row[by], by, where)
            if index in seen:
                raise ScoresError(f"{where}: cell {index} is scored twice (first in row {seen[index]})")
            seen[index] = row_number
            for n in names:
                columns[n][index] = _number(row[n] or "", f"{where}, column {n}")
            for n in timed:
                seconds[n][index] = _number(row[f"time_{n}"] or "", f"{where}, column time_{n}")
    return columns, seconds


def _read_naslib(path: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ScoresError(f"{path} is not valid JSON: {exc}") from None
    data = data.get("nasbench201", data) if isinstance(data, dict) else data
    if not isinstance(data, dict) or NASLIB_DATASET not in data:
        raise ScoresError(f"{path} is not NASLib's zero-cost file: no {NASLIB_DATASET!r} entries at its top")
    columns: dict[str, np.ndarray] = {}
    seconds: dict[str, np.ndarray] = {}
    for key, entry in data[NASLIB_DATASET].items():
        try:
            ops = [int(k) for k in key.strip("()").split(",")]
            index = Arch.from_naslib(ops).index
        except ValueError as exc:
            raise ScoresError(f"{path}: {key!r} is not a NASLib op-index tuple of an NB201 cell ({exc})") from None
        for name, value in entry.items():
            if name in NASLIB_FIELDS:
                continue
            score, time = (value.get("score"), value.get("time")) if isinstance(value, dict) else (value, None)
            columns.setdefault(name, np.full(NUM_ARCHS, np.nan))[index] = _number(str(score), f"{path}, {key}, {name}")
            if time is not None:
                seconds.setdefault(name, np.full(NUM_ARCHS, np.nan))[index] = float(time)
    return columns, seconds


def read_scores(path: str | os.PathLike, prefix: str = "", signs: dict[str, int] | None = None) -> ImportedScores:
    """A scores file's columns as ``prefix + column``, signed (``signs``: column or metric name -> +1 | -1)."""
    path = Path(path)
    if not path.is_file():
        raise ScoresError(f"scores file {path} not found")
    columns, seconds = _read_naslib(path) if path.suffix == ".json" else _read_csv(path)
    signs = dict(signs or {})
    for name, sign in signs.items():
        if name not in columns and name.removeprefix(prefix) not in columns:
            raise ScoresError(f"--sign {name}={sign}: {path} has no column {name!r}; its columns: {', '.join(columns)}")
        if sign not in (1, -1):
            raise ScoresError(f"--sign {name}={sign}: a sign is 1 or -1")
    out = ImportedScores(path, {}, {})
    for name, values in columns.items():
        sign = signs.get(name, signs.get(prefix + name, 1))
        out.columns[prefix + name] = sign * values
        if name in seconds:
            out.seconds[prefix + name] = seconds[name]
    return out


def register(scores: ImportedScores) -> list[str]:
    """Every column of ``scores`` as an ``arch`` metric; a name already taken is refused before any is added."""
    taken = [n for n in scores.columns if n in REGISTRY]
    if taken:
        raise ScoresError(
            f"{scores.path}: {', '.join(taken)} {'is' if len(taken) == 1 else 'are'} already a metric "
            f"({REGISTRY[taken[0]].origin}); import them under other names with --scores-prefix (e.g. naslib_)"
        )
    _ORIGIN.append(f"imported:{scores.path.name}")
    try:
        for name, values in scores.columns.items():
            metric(name, kind="arch", description=f"imported from {scores.path.name}", reference=str(scores.path))(
                _lookup(values)
            )
    finally:
        _ORIGIN.pop()
    return list(scores.columns)


def _lookup(values: np.ndarray):
    def raw(inputs: Inputs) -> Values:
        return {"0": float(values[inputs.arch.index])}

    return raw
