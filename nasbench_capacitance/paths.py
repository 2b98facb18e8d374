"""Where datasets, ground-truth tables and caches live: configuration, never hard-coded.

``NBCAP_DATA`` names the data root (default: ``./data``), which holds ``cifar10/`` and ``nb201/``;
``NBCAP_CACHE`` names where decoded caches are written (default: ``~/.cache/nasbench_capacitance``).
Explicit arguments always win over the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "NBCAP_DATA"
CACHE_ENV = "NBCAP_CACHE"


def data_root(override: str | os.PathLike | None = None) -> Path:
    if override is not None:
        return Path(override).expanduser()
    return Path(os.environ.get(DATA_ENV) or "data").expanduser()


def cache_root(override: str | os.PathLike | None = None) -> Path:
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nasbench_capacitance"
