"""β_eff of the capacitance probe at every snapshot, one metric per kernel strategy.

The raw β_eff is registered with sign +1; which sign ranks architectures better is measured by the
study (see README), not assumed here. The calibrated ``beta_ridge`` (the paper's predictor) learns
the direction from a calibration set: see :mod:`.calibrated`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..capacitance import kernel
from ..training import TrainResult
from . import Inputs, Values, epoch_key, metric


def beta_values(result: TrainResult | None, strategy: str) -> Values:
    if result is None or result.probe is None or not result.probe.epochs:
        raise ValueError("β_eff needs a training run with the capacitance probe as head (head='probe')")
    if strategy != "weight" and strategy not in result.probe.stats:
        raise ValueError(f"β_eff[{strategy}] needs the run to record it: add {strategy!r} to TrainConfig.strategies")
    values = result.probe.beta(strategy).values.tolist()
    return {epoch_key(e): (v if math.isfinite(v) else math.nan) for e, v in zip(result.probe.epochs, values)}


def _beta_of(strategy: str) -> Callable[[Inputs], Values]:
    return lambda inputs: beta_values(inputs.result, strategy)


for _strategy in kernel.STRATEGIES:
    metric(
        f"beta_{_strategy}",
        kind="curve",
        strategy=_strategy,
        description=f"β_eff of the probe's line graph, strategy '{_strategy}'",
        reference="Jiang et al., Nat. Commun. 15, 5718 (2024); closed forms in kernel.py (docs/kernel.md)",
    )(_beta_of(_strategy))
