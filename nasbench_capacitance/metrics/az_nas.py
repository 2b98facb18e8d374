"""AZ-NAS's components (Lee & Ham, CVPR 2024; cvlab-yonsei/AZ-NAS ``NB201/ZeroShotProxy``): expressivity,
progressivity and trainability of the initialised network, read in one forward and one backward.

As the reference: the network re-initialised kaiming-normal by fan-in (substituted, never modified),
BatchNorm with batch statistics, a batch of Gaussian noise of the proxies' batch shape, and the
features of the stem and of every cell and reduction block (18 for NB201). The fourth component is
FLOPs (``flops``), and the AZ-NAS score aggregates the four by their ranks over the cells scored
together (:mod:`.aggregates`). Where ours differs: every draw comes from a generator of the pass's own,
seeded per cell, where the reference carries one random stream across the cells in evaluation order;
the covariance spectra are taken in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.func import functional_call
from torch.nn import functional as F

from . import metric
from .zero_cost import ProxySession, kaiming_normal, reinitialised

ENTROPY_EPS = 1e-8
SINGULAR_EPS = 1e-6


@dataclass(frozen=True)
class AZComponents:
    expressivity: float
    progressivity: float
    trainability: float


def _entropy(feature: torch.Tensor) -> torch.Tensor:
    """Entropy of the normalised eigenvalues of the channels' (biased) covariance over batch and positions."""
    flat = feature.detach().transpose(0, 1).reshape(feature.shape[1], -1).T.double()  # (B·H·W, C)
    flat = flat - flat.mean(0, keepdim=True)
    eig = torch.linalg.eigvalsh(flat.T @ flat / len(flat))
    p = eig / eig.sum()
    return -(p * torch.log(p + ENTROPY_EPS)).sum()


def _pair_trainability(inner: torch.Tensor, outer: torch.Tensor, generator: torch.Generator) -> float:
    """−σ − 1/σ + 2 of the block's Jacobian probed with a Rademacher vector (σ: its largest singular value)."""
    probe = (torch.rand(outer.shape, generator=generator, device=outer.device) < 0.5).to(outer.dtype) * 2 - 1
    if not outer.requires_grad:  # a block whose output ignores its input: no gradient flows
        back = torch.zeros_like(inner)
    else:
        (back,) = torch.autograd.grad(outer, inner, probe, allow_unused=True)
        back = back if back is not None else torch.zeros_like(inner)
    if back.shape == probe.shape and torch.equal(back, probe):
        return -math.inf  # the block is an exact identity
    if back.shape[-1] != probe.shape[-1]:  # a reduction block halves the resolution
        back = F.pixel_unshuffle(back, back.shape[-1] // probe.shape[-1])
    rows = back.shape[0] * back.shape[2] * back.shape[3]
    m = back.transpose(0, 1).reshape(back.shape[1], -1) @ probe.transpose(0, 1).reshape(probe.shape[1], -1).T / rows
    m = m.T if m.shape[0] < m.shape[1] else m
    sigma = float(torch.linalg.svdvals(m.double())[0])
    return -sigma - 1.0 / (sigma + SINGULAR_EPS) + 2.0


def _components(s: ProxySession) -> AZComponents:
    net = s.net
    blocks = [getattr(net, "stem"), *getattr(net, "cells")]  # noqa: B009  (NB201's network)
    generator = s.generator_for("az_nas")
    substitutes, _ = reinitialised(net, kaiming_normal, generator)
    x0 = s.batches[0][0]
    features: list[torch.Tensor] = []
    handles = [b.register_forward_hook(lambda _m, _i, out: features.append(out)) for b in blocks]
    try:
        x = torch.randn(x0.shape, generator=generator, device=x0.device).requires_grad_(True)
        functional_call(net, substitutes, (x,))
    finally:
        for h in handles:
            h.remove()
    entropies = torch.stack([_entropy(f) for f in features])  # NaN for a block whose output is all zeros
    pairs = [_pair_trainability(features[i - 1], features[i], generator) for i in range(len(features) - 1, 0, -1)]
    rises = entropies[1:] - entropies[:-1]
    return AZComponents(
        float(entropies.sum()), float(rises.min()) if torch.isfinite(rises).all() else math.nan, sum(pairs) / len(pairs)
    )


def _az(s: ProxySession) -> AZComponents:
    return s.shared("az_nas", _components)


@metric(
    "az_expressivity",
    kind="init",
    passes=("az_nas",),
    iso_invariant=True,  # block outputs only: a dead edge adds nothing to them
    description="AZ-NAS expressivity: Σ entropy of the features' covariance spectrum",
    reference="AZ-NAS NB201/ZeroShotProxy/compute_az_nas_score.py",
)
def _expressivity(s: ProxySession) -> float:
    return _az(s).expressivity


@metric(
    "az_progressivity",
    kind="init",
    passes=("az_nas",),
    iso_invariant=True,  # block outputs only: a dead edge adds nothing to them
    description="AZ-NAS progressivity: the smallest rise of that entropy from one block to the next",
    reference="AZ-NAS NB201/ZeroShotProxy/compute_az_nas_score.py",
)
def _progressivity(s: ProxySession) -> float:
    return _az(s).progressivity


@metric(
    "az_trainability",
    kind="init",
    passes=("az_nas",),
    iso_invariant=True,  # block outputs only: a dead edge adds nothing to them
    description="AZ-NAS trainability: mean over blocks of −σ − 1/σ + 2 of their Jacobian's top singular value",
    reference="AZ-NAS NB201/ZeroShotProxy/compute_az_nas_score.py",
)
def _trainability(s: ProxySession) -> float:
    return _az(s).trainability
