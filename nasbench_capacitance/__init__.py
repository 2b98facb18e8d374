"""nasbench_capacitance: the neural capacitance metric β_eff on NAS-Bench-201, next to the baselines.

The names below are the public API (README's examples use them); they load on first use, so
``import nasbench_capacitance`` stays cheap. Modules: ``space`` (search space), ``model``
(TinyNetwork), ``probe`` and ``capacitance`` (the probe head and the β_eff kernel), ``data``
(CIFAR-10), ``benchmark`` (ground truth), ``training`` (few-epoch trainer), ``metrics`` (the
predictor registry), ``ranking`` (rank statistics), ``store`` (SQLite results), ``runner`` and
``report`` (studies), ``whole_space`` (the whole space), ``scorer`` and
``adapters`` (any metric as a NAS proxy), ``search`` (NAS on the simulated clock). Design: docs/.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Arch": "nb201.space",
    "arch_from_index": "nb201.space",
    "sample_indices": "nb201.space",
    "build_network": "nb201.model",
    "beta_eff": "capacitance.kernel",
    "GroundTruth": "data.ground_truth",
    "import_official": "data.ground_truth",
    "prepare_data": "study.evaluate",
    "evaluate_architecture": "study.evaluate",
    "load_config": "config",
    "run_study": "study.run",
    "write_report": "study.report",
    "score_space": "whole_space.scoring",
    "reference_table": "whole_space.table",
    "write_space_report": "whole_space.report",
    "ResultStore": "store.results",
    "Scorer": "scorer",
    "NaslibPredictor": "adapters",
    "SimulatedAPI": "adapters",
    "run_search_study": "search.experiment",
    "load_records": "store.results",
    "load_plugin": "metrics.plugins",
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
