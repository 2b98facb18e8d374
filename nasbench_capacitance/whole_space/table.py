"""The whole-space tables: the shipped one (every training-free metric of all 15,625 cells at ``quick``)
and any ``space.csv`` that ``nbcap space`` writes, read as one array per column by NB201 index."""

from __future__ import annotations

import csv
import gzip
import importlib.resources
import os
from pathlib import Path
from typing import TextIO

import numpy as np

from ..nb201 import space

REFERENCE_TABLE = "nb201_space_quick.csv.gz"  # package data: the whole space at the quick preset (make space-reference)


def _open_table(path: str | os.PathLike | None) -> TextIO:
    """The shipped whole-space table, or ``path`` (plain or gzipped), opened as text."""
    source = (
        Path(path) if path else Path(str(importlib.resources.files(__package__).joinpath("reference")), REFERENCE_TABLE)
    )
    if not source.is_file():
        raise FileNotFoundError(
            f"whole-space table {source} not found; `make space-reference` regenerates the shipped one"
        )
    opener = gzip.open if source.suffix == ".gz" else open
    return opener(source, "rt", newline="")


def reference_columns(path: str | os.PathLike | None = None) -> list[str]:
    """The columns of the whole-space table (its header only): which metrics it holds."""
    with _open_table(path) as f:
        return next(csv.reader(f))


def reference_table(path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The shipped whole-space scores (``nbcap space --preset quick``), one array per column, by NB201 index.

    Metric columns hold the scores (higher is better), ``time_<metric>`` the seconds each took on the
    machine that made the table; a search reads these instead of recomputing them. ``path`` reads
    another ``space.csv`` (plain or gzipped) instead.
    """
    with _open_table(path) as f:
        rows = list(csv.DictReader(f))
    numeric = [c for c in rows[0] if c not in ("arch_str", "status", "reason")]
    table = {c: np.full(space.NUM_ARCHS, np.nan) for c in numeric}
    for row in rows:
        i = int(row["index"])
        for c in numeric:
            table[c][i] = float(row[c]) if row[c] else np.nan
    return table
