"""nasbench_capacitance: the neural capacitance metric β_eff on NAS-Bench-201, next to the baselines.

The names below are the public API (README's examples use them); they load on first use, so
``import nasbench_capacitance`` stays cheap. Modules: ``space`` (search space), ``model``
(TinyNetwork), ``probe`` and ``capacitance`` (the probe head and the β_eff kernel), ``data``
(CIFAR-10), ``benchmark`` (ground truth), ``training`` (few-epoch trainer), ``metrics`` (the
predictor registry), ``ranking`` (rank statistics), ``store`` (SQLite results), ``runner`` and
``report`` (studies), ``space_scoring`` and ``space_report`` (the whole space), ``scorer`` and
``adapters`` (any metric as a NAS proxy), ``search`` (NAS on the simulated clock). Design: docs/.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Arch": "space",
    "arch_from_index": "space",
    "sample_indices": "space",
    "build_network": "model",
    "beta_eff": "capacitance",
    "GroundTruth": "benchmark",
    "import_official": "benchmark",
    "prepare_data": "architecture",
    "evaluate_architecture": "architecture",
    "load_config": "config",
    "run_study": "runner",
    "write_report": "report",
    "score_space": "space_scoring",
    "reference_table": "space_scoring",
    "write_space_report": "space_report",
    "ResultStore": "store",
    "Scorer": "scorer",
    "NaslibPredictor": "adapters",
    "SimulatedAPI": "adapters",
    "run_search_study": "search.experiment",
    "load_records": "store",
}
_RENAMED = {"load_config": "load"}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nasbench_capacitance' has no attribute {name!r}")
    module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
    value = getattr(module, _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
