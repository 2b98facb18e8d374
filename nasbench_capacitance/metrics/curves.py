"""Training-based baselines read off the same run's curves (definitions: docs/baselines.md).

With L_t the epoch-t mean training loss and V_t the validation accuracy/loss after epoch t, every
metric is reported at each budget e (using epochs 1..e only). TSE-EMA has three published forms that
share a name but not a value; the paper's is ``tse_ema``, the others carry their source's name.
"""

from __future__ import annotations

from collections.abc import Callable

from . import Inputs, Values, epoch_key, metric

TSE_EMA_GAMMA = 0.999  # the paper's value (Ru et al. 2021), found robust over 0.9..0.999
RU_EMA_NEW_WEIGHT = 0.9  # Ru's code: ema_t = 0.1 ema_{t-1} + 0.9 L_t
NASLIB_EMA_NEW_WEIGHT = 0.99  # NASLib SoTL-EMA: ema_t = 0.01 ema_{t-1} + 0.99 L_t


def per_budget(values: list[float], reduce: Callable[[list[float]], float]) -> Values:
    """``reduce`` of the first e values, for every budget e = 1..len(values)."""
    return {epoch_key(e): reduce(values[:e]) for e in range(1, len(values) + 1)}


def tse_ema(losses: list[float], gamma: float = TSE_EMA_GAMMA) -> float:
    """Σ_t γ^{T-t} L_t: the paper's form (Ru et al. 2021, Eq. 1 with exponential weights)."""
    T = len(losses)
    return sum(gamma ** (T - t) * loss for t, loss in enumerate(losses, start=1))


def ema_trace(losses: list[float], new_weight: float) -> list[float]:
    """ema_1 = L_1, ema_t = (1 - w) ema_{t-1} + w L_t."""
    trace = [losses[0]]
    for loss in losses[1:]:
        trace.append((1 - new_weight) * trace[-1] + new_weight * loss)
    return trace


def _read(series: str, reduce: Callable[[list[float]], float]) -> Callable[[Inputs], Values]:
    """A raw score: ``reduce`` of the run's ``series`` (e.g. ``valid_acc``) at every budget."""
    return lambda inputs: per_budget(getattr(inputs.training(), series), reduce)


def _last(values: list[float]) -> float:
    return values[-1]


CURVES: tuple[tuple[str, int, str, str, Callable[[list[float]], float], str], ...] = (
    # name, sign, description, series, reduce, reference
    ("val_acc", +1, "validation accuracy after e epochs (early stopping)", "valid_acc", _last,
     "NASLib early_stopping.py (valacc)"),
    ("val_loss", -1, "validation loss after e epochs, negated", "valid_loss", _last,
     "NASLib early_stopping.py (valloss)"),
    ("tse", -1, "TSE: sum of epoch train losses, negated", "train_loss", sum, "Ru et al. 2021, Eq. 1"),
    ("tse_e", -1, "TSE-E with E=1: the last epoch's train loss, negated", "train_loss", _last,
     "Ru et al. 2021 (E=1 recommended)"),
    ("tse_ema", -1, f"TSE-EMA, paper form with gamma={TSE_EMA_GAMMA}, negated", "train_loss", tse_ema,
     "Ru et al. 2021, paper form"),
    ("tse_ema_ru", -1, "TSE-EMA as in Ru's code: the final EMA value (weight 0.9 on the new epoch), negated",
     "train_loss", lambda v: ema_trace(v, RU_EMA_NEW_WEIGHT)[-1], "rubinxin/TSE rank_correlation_comparison.py"),
    ("sotl_ema_naslib", -1, "NASLib SoTL-EMA: the sum of EMAs (weight 0.99 on the new epoch), negated",
     "train_loss", lambda v: sum(ema_trace(v, NASLIB_EMA_NEW_WEIGHT)), "NASLib soloss.py (SoTLEMA)"),
    ("sovl", -1, "SoVL: sum of epoch validation losses, negated", "valid_loss", sum, "Ru et al. 2021"),
)  # fmt: skip

for _name, _sign, _description, _series, _reduce, _reference in CURVES:
    metric(_name, kind="curve", sign=_sign, description=_description, reference=_reference)(_read(_series, _reduce))
