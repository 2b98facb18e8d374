"""Every predictor in one registry, with its sign convention written once: higher score = better.

A metric declares its *kind*, which says what it consumes:

- ``arch``: the architecture alone (parameter count, FLOPs);
- ``init``: the initialised network and one batch (zero-cost proxies, :mod:`.zero_cost`);
- ``curve``: one training run's curves and probe snapshots (β_eff, early stopping, TSE, LCE);
- ``calibrated``: per-architecture features plus the ground truth of a *calibration set* of other
  architectures (LcSVR, β_eff ridge regression, :mod:`.calibrated`); these are fitted in the report
  and scored only on architectures outside the calibration set.

A per-architecture metric maps :class:`Inputs` to ``{epoch_key: score}``: the score it gives with a
training budget of that many epochs (``"0"`` is initialisation; fractional keys are mid-epoch probe
snapshots). Raw values are multiplied by the metric's ``sign`` here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

from ..space import Arch
from ..training import TrainResult

if TYPE_CHECKING:
    from .zero_cost import ProxySetup

Values = dict[str, float]
KINDS = ("arch", "init", "curve", "calibrated")


def epoch_key(epoch: float) -> str:
    """``1.0 -> "1"``, ``0.4 -> "0.4"``: one spelling per budget, stable in JSON and CSV."""
    return str(int(epoch)) if float(epoch).is_integer() else f"{epoch:g}"


@dataclass(frozen=True)
class Inputs:
    """What one architecture's evaluation has produced so far; each metric reads the part it needs."""

    arch: Arch
    result: TrainResult | None = None  # the training run (``curve`` metrics)
    setup: "ProxySetup | None" = None  # initialised network + batch (``init`` metrics)

    def training(self) -> TrainResult:
        if self.result is None:
            raise ValueError("this metric needs a training run (train.epochs >= 1)")
        return self.result


@dataclass(frozen=True)
class Metric:
    name: str
    sign: int  # +1: raw value ranks higher-is-better; -1: lower raw value is better (losses)
    kind: str
    description: str
    raw: Callable[[Inputs], Values] | None  # None for ``calibrated`` predictors (see .calibrated)
    reference: str = ""  # where the definition comes from

    @property
    def needs_training(self) -> bool:
        return self.kind in ("curve", "calibrated")

    def __call__(self, inputs: Inputs) -> Values:
        if self.raw is None:
            raise ValueError(f"{self.name} is fitted on a calibration set of architectures: use metrics.calibrated")
        return {k: self.sign * v for k, v in self.raw(inputs).items()}


REGISTRY: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    if metric.name in REGISTRY:
        raise ValueError(f"metric {metric.name!r} is registered twice")
    if metric.sign not in (1, -1):
        raise ValueError(f"metric {metric.name!r}: sign must be +1 or -1")
    if metric.kind not in KINDS:
        raise ValueError(f"metric {metric.name!r}: kind must be one of {KINDS}")
    REGISTRY[metric.name] = metric
    return metric


def get(name: str) -> Metric:
    if name not in REGISTRY:
        raise ValueError(f"unknown metric {name!r}; available: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def available(kind: str | None = None) -> list[str]:
    """Registered metric names, optionally of one kind, in registration order."""
    return [m.name for m in REGISTRY.values() if kind is None or m.kind == kind]


def compute(names: Iterable[str], result: TrainResult | None, arch: Arch, setup: "ProxySetup | None" = None) -> dict[str, Values]:
    """Scores of the named per-architecture metrics (higher is better) for one architecture."""
    names = list(names)
    inputs = Inputs(arch, result, setup)
    if setup is not None:  # the proxies asked for together share their passes
        setup.compute([n for n in names if get(n).kind == "init"])
    return {name: get(name)(inputs) for name in names}


from . import beta, cost, curves, lce, zero_cost, calibrated  # noqa: E402,F401,I001  (registration on import)
