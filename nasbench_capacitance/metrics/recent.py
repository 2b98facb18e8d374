"""ZiCo (ICLR 2023), MeCo (NeurIPS 2023) and SWAP (ICLR 2024), each as its authors' code computes it.

- ``zico`` (SLDGroup/ZiCo ``compute_zico.py``; AZ-NAS's and VKDNW's copies): the loss gradients of two
  batches of real images (the proxies' batch and a second one of the same size, BatchNorm with batch
  statistics, the network's own initialisation); per conv or linear layer Σ over its weights with a
  nonzero spread of mean|g| / std g over the two batches (population std), then Σ_l log of that.
- ``meco`` (HamsterMimi/MeCo ``correlation/NAS_Bench_201.py``): one real image through the network in
  train mode; every module's output on a 4-D map, per module the channels' correlation matrix over the
  positions (NaN and inf entries set to 0), its smallest eigenvalue, summed over the modules.
- ``swap`` and ``swap_reg`` (pym1024/SWAP ``src/metrics/swap.py``): the first 16 images of the proxies'
  batch through the network re-initialised from N(0, 1) (BatchNorm scale 1, shift 0, batch
  statistics), the sign pattern of every ReLU output on a 4-D map taken per neuron across the 16
  samples, and the number of distinct patterns; the mean over 32 such initialisations. ``swap_reg``
  multiplies it by exp(−(Θ − μ)² / σ), Θ the parameter count (see :data:`SWAP_MU`).

Where the references leave a choice, ours is said in the metric's docstring and docs/baselines.md.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from ..nb201.space import Arch
from . import metric
from .cost import nb201_costs
from .zero_cost import ProxySession, reinitialised, standard_normal, weighted_layers

SWAP_SAMPLES = 16
SWAP_REPEATS = 32
# SWAP's regularisation exp(−(Θ − μ)² / σ) for NB201 (Θ: parameters in millions of NB201's own network)
SWAP_MU = 1.5
SWAP_SIGMA = 1.5


def _second_gradients(s: ProxySession) -> list[torch.Tensor | None]:
    """The loss gradient of every conv and linear weight on the second batch (None: it reaches no loss)."""
    weights = [m.weight for m in weighted_layers(s.net)]
    total: list[torch.Tensor | None] = [None] * len(weights)
    for x, y in s.second:
        grads = torch.autograd.grad(F.cross_entropy(s.net(x), y), weights, allow_unused=True)
        total = [g if t is None else t if g is None else t + g for t, g in zip(total, grads)]
    return [None if g is None else g.detach() for g in total]


@metric(
    "zico",
    kind="init",
    passes=("gradients", "second_gradients"),
    iso_invariant=True,
    description="ZiCo: Σ_l log Σ mean|g| / std g of the loss gradients over two batches",
    reference="ZiCo ZeroShotProxy/compute_zico.py",
)
def _zico(s: ProxySession) -> float:
    first = s.gradients.grads
    second = s.shared("second_gradients", _second_gradients)
    score = 0.0
    for a, b in zip(first, second):
        if a is None or b is None:
            continue
        g = torch.stack([a.flatten(), b.flatten()]).double()
        spread = g.std(0, unbiased=False)
        kept = spread != 0
        total = float((g.abs().mean(0)[kept] / spread[kept]).sum())
        if total > 0:
            score += math.log(total)
    return score


@metric(
    "meco",
    kind="init",
    passes=(),
    iso_invariant=False,
    description="MeCo: Σ over modules of the smallest eigenvalue of the channels' correlation on one image",
    reference="MeCo correlation/NAS_Bench_201.py",
)
def _meco(s: ProxySession) -> float:
    """On the first image of the proxies' batch, alone (the reference's batch of one), in train mode.

    The reference hooks every module of zero-cost-nas's rebuilt network; ours hooks every module of
    NB201's own, so the sum weighs the layers by our module tree's nesting instead of theirs.
    """
    values: list[float] = []

    def keep(_m: nn.Module, _i: tuple, output: object) -> None:
        if isinstance(output, torch.Tensor) and output.dim() == 4 and output.shape[1] > 1:
            feature = output[0].detach().reshape(output.shape[1], -1).double()
            corr = torch.nan_to_num(torch.corrcoef(feature), nan=0.0, posinf=0.0, neginf=0.0)
            values.append(float(torch.linalg.eigvalsh(corr)[0]))

    handles = [m.register_forward_hook(keep) for m in s.net.modules()]
    try:
        with torch.no_grad():
            s.net(s.batches[0][0][:1])
    finally:
        for h in handles:
            h.remove()
    return float(sum(v for v in values if math.isfinite(v)))


def distinct_neuron_patterns(active: torch.Tensor) -> int:
    """The number of distinct columns of a (samples, neurons) boolean matrix: each neuron's pattern of
    activity across the samples, read as a binary number (up to 62 samples).

    Up to 16 samples (SWAP's), the numbers come from a float32 product (exact below 2^24) and are
    counted by ``bincount`` over the 65,536 possible patterns: several times faster than sorting.
    """
    samples = len(active)
    if samples > 62:
        raise ValueError(f"{samples} samples: a neuron's pattern is read as a 63-bit number")
    if samples <= 16:
        place = 2.0 ** torch.arange(samples, device=active.device, dtype=torch.float32)
        patterns = (place @ active.to(torch.float32)).to(torch.int64)
        return int((torch.bincount(patterns, minlength=2**samples) > 0).sum())
    place64 = (2 ** torch.arange(samples, device=active.device)).to(torch.int64)
    return len(torch.unique(place64 @ active.to(torch.int64)))


def _swap_patterns(s: ProxySession) -> float:
    """The mean over :data:`SWAP_REPEATS` Gaussian initialisations of the distinct sample-wise patterns."""
    x = torch.cat([b for b, _ in s.batches])[:SWAP_SAMPLES]
    relus = [m for m in s.net.modules() if isinstance(m, nn.ReLU)]
    codes: list[torch.Tensor] = []

    def keep(_m: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if inputs[0].dim() == 4:
            codes.append(output.detach().flatten(1) > 0)

    generator = s.generator_for("swap")
    counts = []
    handles = [m.register_forward_hook(keep) for m in relus]
    try:
        with torch.no_grad():
            for _ in range(SWAP_REPEATS):
                substitutes, _ = reinitialised(s.net, standard_normal, generator)
                codes.clear()
                functional_call(s.net, substitutes, (x,))
                counts.append(distinct_neuron_patterns(torch.cat(codes, dim=1)))
    finally:
        for h in handles:
            h.remove()
    return sum(counts) / len(counts)


@metric(
    "swap",
    kind="init",
    passes=("swap",),
    iso_invariant=False,
    description="SWAP: distinct sample-wise ReLU patterns of 16 images, mean over 32 Gaussian initialisations",
    reference="SWAP src/metrics/swap.py",
)
def _swap(s: ProxySession) -> float:
    return s.shared("swap", _swap_patterns)


@metric(
    "swap_reg",
    kind="init",
    passes=("swap",),
    iso_invariant=False,
    description="SWAP regularised by the parameter count: swap · exp(−(Θ − μ)² / σ)",
    reference="SWAP src/metrics/swap.py (regular=True)",
)
def _swap_reg(s: ProxySession) -> float:
    """Θ is the parameter count of NB201's own network (C=16, N=5) in millions, whatever network the
    proxies run on, so the regularisation's centre means the same cells at every setting."""
    arch = getattr(s.net, "arch")  # noqa: B009  (NB201's network knows its cell)
    theta = nb201_costs(Arch.parse(arch))[0]
    return s.shared("swap", _swap_patterns) * math.exp(-((theta - SWAP_MU) ** 2) / SWAP_SIGMA)
