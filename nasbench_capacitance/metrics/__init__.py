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

Every metric is registered one way, with the :func:`metric` decorator, and declares what it needs
(:class:`Needs`); nothing finds metrics by their names. The contract: docs/metrics.md.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..nb201.space import Arch
from ..store.records import Record
from ..training import TrainResult

if TYPE_CHECKING:
    from .calibrated import Calibrated, FittedPredictor
    from .zero_cost import ProxySession, ProxySetup

Values = dict[str, float]
KINDS = ("arch", "init", "curve", "calibrated", "aggregate")
BUILT_IN = "built-in"


def epoch_key(epoch: float) -> str:
    """``1.0 -> "1"``, ``0.4 -> "0.4"``: one spelling per budget, stable in JSON and CSV."""
    return str(int(epoch)) if float(epoch).is_integer() else f"{epoch:g}"


@dataclass(frozen=True)
class Inputs:
    """What one architecture's evaluation has produced so far; each metric reads the part it needs."""

    arch: Arch
    result: TrainResult | None = None  # the training run (``curve`` metrics)
    setup: ProxySetup | None = None  # initialised network + batch (``init`` metrics)

    def training(self) -> TrainResult:
        if self.result is None:
            raise ValueError("this metric needs a training run (train.epochs >= 1)")
        return self.result


@dataclass(frozen=True)
class Needs:
    """What a metric consumes, declared once (as NASLib's ``get_data_reqs``); derived from its kind."""

    network: bool = False  # the initialised network and one batch (zero-cost proxies)
    training: bool = False  # a training run: curves and probe snapshots
    strategy: str | None = None  # the β_eff coupling strategy the run must record
    calibration: bool = False  # architectures with known final accuracy to fit on

    @classmethod
    def of(cls, kind: str, strategy: str | None = None) -> Needs:
        return cls(
            network=kind == "init",
            training=kind in ("curve", "calibrated"),
            strategy=strategy,
            calibration=kind == "calibrated",
        )


@dataclass(frozen=True)
class Proxy:
    """How a zero-cost (``init``) metric is computed: its formula over the passes of one network on one
    batch (:class:`.zero_cost.ProxySession`), the shared passes it reads (so they run once for every
    proxy asked for together), and whether cells of one isomorphism class share its value in
    distribution (it reads only the function a cell computes, not its dead edges)."""

    formula: Callable[[ProxySession], float]
    passes: tuple[str, ...]
    iso_invariant: bool


@dataclass(frozen=True)
class Aggregate:
    """How an ``aggregate`` metric combines per-cell metrics over the cells scored together (by their ranks, so
    its value is defined relative to that population): ``combine({component: scores}) -> scores``."""

    components: tuple[str, ...]
    combine: Callable[[dict[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class Metric:
    name: str
    sign: int  # +1: raw value ranks higher-is-better; -1: lower raw value is better (losses)
    kind: str
    description: str
    raw: Callable[[Inputs], Values] | None  # per-architecture score; None for ``calibrated`` predictors
    reference: str = ""  # where the definition comes from
    needs: Needs = field(default_factory=Needs)
    calibration: Calibrated | None = None  # features and model of a ``calibrated`` predictor
    proxy: Proxy | None = None  # formula and passes of an ``init`` metric
    aggregate: Aggregate | None = None  # components and combination of an ``aggregate`` metric
    origin: str = BUILT_IN  # where it comes from: built-in, a plug-in (plugin:PATH) or imported scores

    @property
    def built_in(self) -> bool:
        return self.origin == BUILT_IN

    @property
    def needs_training(self) -> bool:
        return self.needs.training

    def __call__(self, inputs: Inputs) -> Values:
        if self.raw is None:
            raise ValueError(f"{self.name} is fitted on a calibration set of architectures: use its fit()")
        return {k: self.sign * v for k, v in self.raw(inputs).items()}

    def fit(self, records: list[Record], accuracies: np.ndarray, budget: str, seed: int = 0) -> FittedPredictor:
        """A ``calibrated`` predictor fitted at ``budget`` on records with known final accuracy."""
        from .calibrated import fit

        return fit(self.name, records, accuracies, budget, seed)


REGISTRY: dict[str, Metric] = {}
_ORIGIN = [BUILT_IN]  # what the metrics registered now come from; a plug-in's loading sets it (metrics.plugins)


def register(metric: Metric) -> Metric:
    if metric.name in REGISTRY:
        taken = REGISTRY[metric.name].origin
        raise ValueError(f"metric {metric.name!r} is registered twice: the name is taken ({taken}); give yours another")
    if metric.sign not in (1, -1):
        raise ValueError(f"metric {metric.name!r}: sign must be +1 or -1")
    if metric.kind not in KINDS:
        raise ValueError(f"metric {metric.name!r}: kind must be one of {KINDS}")
    if (metric.kind == "calibrated") != (metric.calibration is not None):
        raise ValueError(f"metric {metric.name!r}: a calibrated metric, and only one, has a calibration spec")
    if (metric.kind == "init") != (metric.proxy is not None):
        raise ValueError(f"metric {metric.name!r}: a zero-cost (init) metric, and only one, has a formula")
    if (metric.kind == "aggregate") != (metric.aggregate is not None):
        raise ValueError(f"metric {metric.name!r}: an aggregate, and only one, names its components")
    REGISTRY[metric.name] = metric
    return metric


# passes that run others inside them: the loss and activation passes read one shared forward, which
# records the ReLU codes ("codes") when a proxy asked for reads them
IMPLIED_PASSES = {"gradients": ("forward",), "activations": ("forward", "codes"), "codes": ("forward",)}


def with_implied_passes(passes: Iterable[str]) -> tuple[str, ...]:
    """``passes`` with the passes they run inside (so each proxy is charged its share of those too)."""
    named = tuple(passes)
    return tuple(dict.fromkeys([*named, *(inner for p in named for inner in IMPLIED_PASSES.get(p, ()))]))


def metric(
    name: str,
    *,
    kind: str,
    description: str,
    reference: str = "",
    sign: int = +1,
    strategy: str | None = None,
    features: Callable[[Record, str], Any] | None = None,
    budgets: Callable[[list[Record]], list[str]] | None = None,
    passes: tuple[str, ...] = (),
    iso_invariant: bool = False,
    components: tuple[str, ...] = (),
    reads: tuple[str, ...] | None = None,
) -> Callable[[Callable], Callable]:
    """Register the decorated function as metric ``name``: the one way a metric enters the registry.

    - ``arch`` and ``curve``: the function is the raw score ``(Inputs) -> {budget: value}``;
    - ``init`` (a zero-cost proxy): the function is the formula ``(session) -> float`` over the passes
      of the initialised network on the proxies' batch (:class:`.zero_cost.ProxySession`); ``passes``
      names the shared passes it reads (``"activations"``, ``"gradients"``, ``"forward"``, or any a
      plug-in defines with ``session.shared``) and ``iso_invariant``
      says whether it reads only the function a cell computes (see :class:`Proxy`);
    - ``calibrated``: the function is the model factory ``(x, y, seed) -> fitted regressor``, and
      ``features`` ``(record, budget) -> vector or None`` and ``budgets`` ``(records) -> budgets``
      say what it is fitted on; ``reads`` names the per-cell metrics its features read when those
      are training-free (then it needs no training run; default: the configuration's curves);
    - ``aggregate``: the function combines the ``components``' scores over the cells scored together,
      ``({component: scores}) -> scores`` (a rank aggregate is relative to that population).
    """

    def decorate(function: Callable) -> Callable:
        calibration, proxy = None, None
        raw: Callable | None = function
        if kind == "calibrated":
            from .calibrated import Calibrated

            if features is None or budgets is None:
                raise ValueError(f"calibrated metric {name!r} needs features= and budgets=")
            calibration, raw = Calibrated(features, budgets, function, reads), None
        elif kind == "init":
            proxy, raw = Proxy(function, with_implied_passes(passes), iso_invariant), _proxy_score(name)
        aggregate = Aggregate(tuple(components), function) if kind == "aggregate" else None
        raw = None if aggregate else raw
        needs = Needs.of(kind, strategy)
        if reads is not None:  # a calibrated metric on training-free features: no training run
            needs = Needs(network=any(get(n).kind == "init" for n in reads), calibration=True)
        register(
            Metric(name, sign, kind, description, raw, reference, needs, calibration, proxy, aggregate, _ORIGIN[-1])
        )
        return function

    return decorate


def _proxy_score(name: str) -> Callable[[Inputs], Values]:
    """An ``init`` metric's raw score: its value on the setup's session (computed once per setup)."""

    def raw(inputs: Inputs) -> Values:
        if inputs.setup is None:
            raise ValueError(
                f"{name} is a zero-cost proxy: it needs the initialised network and a batch "
                "(metrics.zero_cost.make_setup)"
            )
        return {"0": inputs.setup.score(name)}

    return raw


def get(name: str) -> Metric:
    if name not in REGISTRY:
        raise ValueError(f"unknown metric {name!r}; available: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def check_names(names: Iterable[str]) -> list[str]:
    """``names`` without repeats, each a registered metric; every unknown one is named in one message."""
    chosen = list(dict.fromkeys(names))
    unknown = [n for n in chosen if n not in REGISTRY]
    if unknown:
        listed = ", ".join(repr(n) for n in unknown)
        raise ValueError(
            f"unknown metric{'s' if len(unknown) > 1 else ''} {listed}; available: {', '.join(sorted(REGISTRY))}"
        )
    return chosen


def available(kind: str | None = None, pattern: str | None = None) -> list[str]:
    """Registered metric names in registration order, optionally of one kind and matching a glob pattern."""
    return [
        m.name
        for m in REGISTRY.values()
        if (kind is None or m.kind == kind) and (pattern is None or fnmatch.fnmatchcase(m.name, pattern))
    ]


def capacitance_metrics(names: Iterable[str]) -> list[str]:
    """Those of ``names`` that are β_eff of a coupling strategy, sorted (registry entries only)."""
    return sorted(n for n in names if n in REGISTRY and REGISTRY[n].needs.strategy is not None)


def score(
    names: Iterable[str], result: TrainResult | None, arch: Arch, setup: ProxySetup | None = None
) -> dict[str, Values]:
    """Scores of the named per-architecture metrics (higher is better) for one architecture."""
    names = list(names)
    inputs = Inputs(arch, result, setup)
    if setup is not None:  # the proxies asked for together share their passes
        setup.compute([n for n in names if get(n).kind == "init"])
    return {name: get(name)(inputs) for name in names}


from . import beta, cost, curves, lce, zero_cost, calibrated  # noqa: E402,F401,I001  (registration on import)
from . import recent, az_nas, te_nas, vkdnw, aggregates, few_shot  # noqa: E402,F401,I001
