"""The whole-space tables: the shipped ones (every training-free metric of all 15,625 cells at ``quick``; of a
seeded 1,000-cell sample at ``standard``, NB201's own network) and any ``space.csv`` that ``nbcap space``
writes, read as one array per column by NB201 index."""

from __future__ import annotations

import csv
import gzip
import importlib.resources
import os
from pathlib import Path
from typing import TextIO

import numpy as np

from .. import config
from ..config import StudyConfig
from ..nb201 import space
from ..store import identity

REFERENCE_TABLE = "nb201_space_quick.csv.gz"  # package data: the whole space at the quick preset (make space-reference)
STANDARD_TABLE = (
    "nb201_space_standard.csv.gz"  # package data: the 1,000-cell sample at standard (make standard-reference)
)
SHIPPED = {
    "quick": REFERENCE_TABLE,
    "standard": STANDARD_TABLE,
}  # preset -> the table scored at its training-free setting


def shipped_path(name: str) -> Path:
    return Path(str(importlib.resources.files(__package__).joinpath("reference")), name)


def table_for(cfg: StudyConfig) -> tuple[Path, str] | None:
    """The shipped table made at ``cfg``'s training-free setting (network, data, proxies' batch, seed), and its
    preset's name; None when no shipped table fits."""
    for preset, name in SHIPPED.items():
        if identity.training_free(cfg) == identity.training_free(config.load(preset)):
            return shipped_path(name), preset
    return None


def _open_table(path: str | os.PathLike | None) -> TextIO:
    """The shipped whole-space table, or ``path`` (plain or gzipped), opened as text."""
    source = Path(path) if path else shipped_path(REFERENCE_TABLE)
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
