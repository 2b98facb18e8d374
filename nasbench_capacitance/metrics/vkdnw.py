"""VKDNW (CVPR 2025, ondratybl/VKDNW ``NB201/ZeroShotProxy/compute_vkdnw_score.py``): the spread of the
Fisher information's spectrum over a few weights of the initialised network.

As the reference: the network re-initialised kaiming-normal by fan-in (substituted), BatchNorm in eval
mode with fresh running statistics (so samples are independent), a batch of Gaussian noise of the
proxies' batch shape; the first element of each of the first 128 parameter tensors (registration
order) as the weights; per sample the Jacobian J of the logits with respect to them; the model's
predictive distribution p = (1 − α) softmax + α / C (α = 0.05) and L with L Lᵀ = diag(p) − p pᵀ;
F = mean over samples of (L J)ᵀ (L J), the product the reference's code forms; the deciles of F's
eigenvalues, normalised to sum 1, and their entropy.

- ``vkdnw_entropy``: that entropy;
- ``vkdnw``: VKDNW's single score, cells ordered first by ℵ, the number of trainable tensors (for NB201
  21 + 45 per convolution edge), then by the entropy; encoded as ℵ + entropy / log 10 (the entropy of 9
  deciles is below log 9), which orders cells as the reference's lexicographic rank does.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from . import metric
from .zero_cost import ProxySession, kaiming_normal, reinitialised

PARAMETER_TENSORS = 128  # the reference's params_grad_len
SMOOTHING = 0.05  # α of the predictive distribution
DECILES = tuple(q / 10 for q in range(1, 10))
EPS = 1e-10


def cholesky_covariance(p: torch.Tensor) -> torch.Tensor:
    """(n, C) probabilities -> (n, C, C) lower-triangular L with L Lᵀ = diag(p) − p pᵀ (the multinomial
    covariance, singular: its last row is zero)."""
    n, c = p.shape
    tail = torch.flip(torch.cumsum(torch.flip(p, [1]), 1), [1])  # Σ_{k ≥ i} p_k
    rest = torch.cat([tail[:, 1:], torch.zeros(n, 1, dtype=p.dtype, device=p.device)], 1)  # Σ_{k > i} p_k
    diag = torch.sqrt(torch.clamp(p * rest / tail, min=0))
    below = -p[:, :, None] * torch.sqrt(p / torch.clamp(tail * rest, min=EPS))[:, None, :]  # L_ij, i > j
    lower = torch.tril(below, -1)
    return lower + torch.diag_embed(diag)


def _entropy(s: ProxySession) -> tuple[float, int]:
    net = s.net
    substitutes, _ = reinitialised(net, kaiming_normal, s.generator_for("vkdnw"))
    names = [name for name, _ in net.named_parameters()][:PARAMETER_TENSORS]
    x0 = s.batches[0][0]
    x = torch.randn(x0.shape, generator=s.generator_for("vkdnw_input"), device=x0.device)
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    was = [m.training for m in norms]

    def logits(t: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        changed = dict(substitutes)
        for k, name in enumerate(names):
            flat = substitutes[name].flatten()
            changed[name] = torch.cat([flat[:1] + t[k], flat[1:]]).reshape(substitutes[name].shape)
        return functional_call(net, changed, (sample[None],))[0]

    try:
        for m in norms:
            m.eval()
        t0 = torch.zeros(len(names), dtype=x.dtype, device=x.device)
        with torch.no_grad():
            out = functional_call(net, substitutes, (x,))
        jac = vmap(jacrev(logits), in_dims=(None, 0))(t0, x)  # (n, C, P)
    finally:
        for m, training in zip(norms, was):
            m.train(training)
    c = out.shape[1]
    p = torch.softmax(out.double(), 1) * (1 - SMOOTHING) + SMOOTHING / c
    projected = cholesky_covariance(p) @ jac.double()  # (n, C, P): L J
    fisher = (projected.transpose(1, 2) @ projected).mean(0)
    eig = torch.linalg.svdvals(fisher)
    q = torch.quantile(eig, torch.tensor(DECILES, dtype=eig.dtype, device=eig.device))
    t = q / (q.abs().sum() + EPS)
    entropy = float(-(t * torch.log(t + EPS)).sum())
    return entropy, len(list(net.parameters()))


@metric(
    "vkdnw_entropy",
    kind="init",
    passes=("vkdnw",),
    iso_invariant=False,
    description="VKDNW: entropy of the deciles of the Fisher information's spectrum",
    reference="VKDNW NB201/ZeroShotProxy/compute_vkdnw_score.py",
)
def _vkdnw_entropy(s: ProxySession) -> float:
    return s.shared("vkdnw", _entropy)[0]


@metric(
    "vkdnw",
    kind="init",
    passes=("vkdnw",),
    iso_invariant=False,
    description="VKDNW single: the number of trainable tensors, then the Fisher spectrum's entropy",
    reference="VKDNW NB201 tss_utils.py (dense rank of (dim, entropy))",
)
def _vkdnw(s: ProxySession) -> float:
    entropy, tensors = s.shared("vkdnw", _entropy)
    return tensors + entropy / math.log(10)
