"""Every predictor in one registry, with its sign convention written once: higher score = better.

A metric maps what one architecture's evaluation produced (a :class:`~nasbench_capacitance.training.TrainResult`
and the architecture) to ``{epoch_key: score}``: the score it would give with a training budget of
that many epochs (``"0"`` is initialisation; fractional keys are mid-epoch probe snapshots).
Raw values are multiplied by the metric's ``sign`` here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from ..space import Arch
from ..training import TrainResult

Values = dict[str, float]


def epoch_key(epoch: float) -> str:
    """``1.0 -> "1"``, ``0.4 -> "0.4"``: one spelling per budget, stable in JSON and CSV."""
    return str(int(epoch)) if float(epoch).is_integer() else f"{epoch:g}"


@dataclass(frozen=True)
class Metric:
    name: str
    sign: int  # +1: raw value ranks higher-is-better; -1: lower raw value is better (losses)
    needs_training: bool
    description: str
    raw: Callable[[TrainResult | None, Arch], Values]

    def __call__(self, result: TrainResult | None, arch: Arch) -> Values:
        return {k: self.sign * v for k, v in self.raw(result, arch).items()}


REGISTRY: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    if metric.name in REGISTRY:
        raise ValueError(f"metric {metric.name!r} is registered twice")
    if metric.sign not in (1, -1):
        raise ValueError(f"metric {metric.name!r}: sign must be +1 or -1")
    REGISTRY[metric.name] = metric
    return metric


def get(name: str) -> Metric:
    if name not in REGISTRY:
        raise ValueError(f"unknown metric {name!r}; available: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def compute(names: Iterable[str], result: TrainResult | None, arch: Arch) -> dict[str, Values]:
    """Scores of the named metrics (higher is better) for one architecture."""
    return {name: get(name)(result, arch) for name in names}


from . import beta, cost, curves  # noqa: E402,F401  (registration side effect of importing the package)
