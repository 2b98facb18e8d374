"""TE-NAS's two indicators per architecture (Chen et al., ICLR 2021), as AZ-NAS's repository scores one
network (``NB201/ZeroShotProxy/compute_te_nas_score.py``): the NTK's condition number and the number of
linear regions. TE-NAS itself ranks by their rank sum over the candidates (:mod:`.aggregates`).

- ``te_ntk``: −κ of the NTK G Gᵀ on the proxies' batch, G the per-sample gradient of the summed logits
  with respect to every parameter named ``weight`` (conv, BatchNorm scale, classifier); the network's
  own initialisation, BatchNorm with batch statistics; κ = λ_max / λ_min, NaN scored as κ = 1e5.
- ``te_linear_regions``: the number of distinct activation patterns (signs of every ReLU output on a
  4-D map) over a batch of Gaussian noise of the proxies' batch shape, in train mode.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import metric
from .zero_cost import ProxySession

NAN_CONDITION = 1e5  # the reference's score for a NaN condition number


def _per_sample_gradients(s: ProxySession) -> torch.Tensor:
    """G: one row per sample, the gradient of its summed logits over the ``weight`` parameters."""
    params = [p for name, p in s.net.named_parameters() if "weight" in name]
    rows = []
    for x, _ in s.batches:
        out = s.net(x).sum(1)  # (n,): each sample's summed logits; batch statistics couple the samples
        for k in range(len(out)):  # one backward per sample, as the reference (faster on CPU than vmap)
            grads = torch.autograd.grad(out[k], params, retain_graph=k < len(out) - 1, allow_unused=True)
            rows.append(torch.cat([g.flatten() for g in grads if g is not None]))
    return torch.stack(rows)


@metric(
    "te_ntk",
    kind="init",
    passes=(),
    iso_invariant=True,  # a dead edge's weights get no gradient: they add nothing to the NTK
    description="TE-NAS: minus the condition number of the NTK on the proxies' batch",
    reference="TE-NAS lib/procedures/ntk.py; AZ-NAS compute_te_nas_score.py",
)
def _te_ntk(s: ProxySession) -> float:
    g = _per_sample_gradients(s).double()
    eig = torch.linalg.eigvalsh(g @ g.T)
    condition = float(eig[-1] / eig[0])
    return -(NAN_CONDITION if math.isnan(condition) else condition)


@metric(
    "te_linear_regions",
    kind="init",
    passes=(),
    iso_invariant=False,
    description="TE-NAS: distinct ReLU activation patterns over a batch of Gaussian noise",
    reference="TE-NAS lib/procedures/linear_region_counter.py; AZ-NAS compute_te_nas_score.py",
)
def _te_linear_regions(s: ProxySession) -> float:
    codes: list[torch.Tensor] = []

    def keep(_m: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if inputs[0].dim() == 4:
            codes.append(output.detach().flatten(1) > 0)

    relus = [m for m in s.net.modules() if isinstance(m, nn.ReLU)]
    handles = [m.register_forward_hook(keep) for m in relus]
    generator = s.generator_for("te_linear_regions")
    try:
        with torch.no_grad():
            patterns = []
            for x, _ in s.batches:
                codes.clear()
                s.net(torch.randn(x.shape, generator=generator, device=x.device))
                patterns.append(torch.cat(codes, dim=1))
    finally:
        for h in handles:
            h.remove()
    return float(len(torch.unique(torch.cat(patterns), dim=0)))
