"""β_eff of the capacitance probe at every snapshot, one metric per kernel strategy.

The raw β_eff is registered with sign +1; which sign ranks architectures better is measured by the
study (see README), not assumed here.
"""

from __future__ import annotations

import math

from .. import capacitance
from ..space import Arch
from ..training import TrainResult
from . import Metric, Values, epoch_key, register


def beta_values(result: TrainResult | None, strategy: str) -> Values:
    if result is None or result.probe is None or not result.probe.epochs:
        raise ValueError("β_eff needs a training run with the capacitance probe as head (head='probe')")
    if strategy != "weight" and strategy not in result.probe.stats:
        raise ValueError(f"β_eff[{strategy}] needs the run to record it: add {strategy!r} to TrainConfig.strategies")
    values = result.probe.beta(strategy).values.tolist()
    return {epoch_key(e): (v if math.isfinite(v) else math.nan) for e, v in zip(result.probe.epochs, values)}


def _register(strategy: str) -> None:
    register(Metric(f"beta_{strategy}", +1, True, f"β_eff of the probe's line graph, strategy '{strategy}'",
                    lambda r, a: beta_values(r, strategy)))


for _strategy in capacitance.STRATEGIES:
    _register(_strategy)
