"""Where datasets, ground-truth tables and caches live: configuration, never hard-coded.

``NBCAP_DATA`` names the data root (default: ``./data``), which holds ``cifar10/`` and ``nb201/``;
``NBCAP_CACHE`` names where decoded caches are written (default: ``~/.cache/nasbench_capacitance``).
Explicit arguments always win over the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"  # `nbcap data --download`
CIFAR10_CHECKSUM = "md5:c58f30108f718f92721af3b95e74349a"  # as published with the archive
DATA_ENV = "NBCAP_DATA"
CACHE_ENV = "NBCAP_CACHE"


def data_root(override: str | os.PathLike | None = None) -> Path:
    if override is not None:
        return Path(override).expanduser()
    return Path(os.environ.get(DATA_ENV) or "data").expanduser()


TABLE_NAMES = ("nb201_merged.csv", "nb201_merged.csv.gz")


def ground_truth_table(root: str | os.PathLike | None = None) -> Path:
    """The compact NB201 table under the data root: ``nb201/nb201_merged.csv``, else its gzipped copy
    (the repository ships ``data/nb201/nb201_merged.csv.gz``); the plain name when neither exists."""
    folder = data_root(root) / "nb201"
    for name in TABLE_NAMES:
        if (folder / name).is_file():
            return folder / name
    return folder / TABLE_NAMES[0]


def cache_root(override: str | os.PathLike | None = None) -> Path:
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nasbench_capacitance"
