"""Training-based baselines read off the same run's curves (definitions: ../shared/baselines.md §2.3).

With L_t the epoch-t mean training loss and V_t the validation accuracy/loss after epoch t, every
metric is reported at each budget e (using epochs 1..e only).
"""

from __future__ import annotations

from ..space import Arch
from ..training import TrainResult
from . import Metric, Values, epoch_key, register

TSE_EMA_GAMMA = 0.999  # the paper's value (Ru et al. 2021), found robust over 0.9..0.999


def _per_budget(values: list[float], reduce) -> Values:
    return {epoch_key(e): reduce(values[:e]) for e in range(1, len(values) + 1)}


def _needs(result: TrainResult | None) -> TrainResult:
    if result is None:
        raise ValueError("this metric needs a training run")
    return result


def tse_ema(losses: list[float], gamma: float = TSE_EMA_GAMMA) -> float:
    """Σ_t γ^{T-t} L_t (paper form; Ru's code and NASLib's SoTL-EMA are different quantities)."""
    T = len(losses)
    return sum(gamma ** (T - t) * loss for t, loss in enumerate(losses, start=1))


register(Metric("val_acc", +1, True, "validation accuracy after e epochs (early stopping)",
                lambda r, a: _per_budget(_needs(r).valid_acc, lambda v: v[-1])))
register(Metric("val_loss", -1, True, "validation loss after e epochs, negated",
                lambda r, a: _per_budget(_needs(r).valid_loss, lambda v: v[-1])))
register(Metric("tse", -1, True, "TSE: sum of epoch train losses, negated",
                lambda r, a: _per_budget(_needs(r).train_loss, sum)))
register(Metric("tse_e", -1, True, "TSE-E with E=1: the last epoch's train loss, negated",
                lambda r, a: _per_budget(_needs(r).train_loss, lambda v: v[-1])))
register(Metric("tse_ema", -1, True, f"TSE-EMA, paper form with gamma={TSE_EMA_GAMMA}, negated",
                lambda r, a: _per_budget(_needs(r).train_loss, tse_ema)))
register(Metric("sovl", -1, True, "SoVL: sum of epoch validation losses, negated",
                lambda r, a: _per_budget(_needs(r).valid_loss, sum)))
