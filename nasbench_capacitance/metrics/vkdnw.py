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
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

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


@torch.enable_grad()
def first_element_jacobian(
    net: nn.Module, substitutes: dict[str, torch.Tensor], names: list[str], x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The logits of ``x`` under ``substitutes`` and their per-sample Jacobian (n, C, P) in the first element
    of each parameter ``names`` lists, BatchNorm in eval mode (so samples are independent).

    One backward pass per class to every owner's output, then each first element's derivative in closed
    form from its module's input: for a convolution's W[0, 0, 0, 0] the sum over positions of the output's
    channel-0 gradient times the input's channel 0 at the kernel's first tap; for BatchNorm's scale the
    normalised input; for a bias the gradient alone. Several times faster than differentiating the
    substituted weights per sample (torch.func), the same numbers to float rounding (tests/test_recent_proxies.py).
    """
    modules = dict(net.named_modules())
    owners = list(dict.fromkeys(name.rpartition(".")[0] for name in names))
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def keeper(owner: str) -> Callable[..., torch.Tensor]:
        def keep(_m: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
            if owner in seen:
                raise RuntimeError(f"{owner} runs twice in one forward: its weights' Jacobian is not one pass")
            if not output.requires_grad:  # a constant of the input (after a `none` edge): its parameters still count
                output = output.detach().requires_grad_()
            seen[owner] = (inputs[0].detach(), output)
            return output.clone()  # what follows sees a copy: an in-place ReLU after it leaves ours intact

        return keep

    handles = [modules[o].register_forward_hook(keeper(o)) for o in owners]
    try:
        out = functional_call(net, substitutes, (x.detach().requires_grad_(),))
    finally:
        for h in handles:
            h.remove()
    n, classes = out.shape
    gradients = []  # per class: owner -> the gradient of that class's logits at the owner's output
    for k in range(classes):
        grads = torch.autograd.grad(
            out[:, k].sum(), [seen[o][1] for o in owners], retain_graph=k < classes - 1, allow_unused=True
        )
        gradients.append(dict(zip(owners, grads)))
    columns = []
    for name in names:
        owner, _, kind = name.rpartition(".")
        module, inputs = modules[owner], seen[owner][0]
        prefix = f"{owner}." if owner else ""
        per_class = []
        for k in range(classes):
            gy = gradients[k].get(owner)
            if gy is None:  # the owner's output reaches no logit
                per_class.append(torch.zeros(n, dtype=out.dtype, device=out.device))
                continue
            g0 = gy[:, 0]
            if kind == "bias":
                factor: torch.Tensor | float = 1.0
            elif isinstance(module, nn.Conv2d):
                if isinstance(module.padding, str):
                    raise TypeError(f"{name}: VKDNW's Jacobian reads a convolution's padding as numbers")
                (p0, p1), (s0, s1) = module.padding, module.stride
                padded = F.pad(inputs[:, 0], (p1, p1, p0, p0))
                factor = padded[:, : (g0.shape[1] - 1) * s0 + 1 : s0, : (g0.shape[2] - 1) * s1 + 1 : s1]
            elif isinstance(module, nn.modules.batchnorm._BatchNorm):
                mean, var = substitutes[prefix + "running_mean"][0], substitutes[prefix + "running_var"][0]
                factor = (inputs[:, 0] - mean) / torch.sqrt(var + module.eps)
            elif isinstance(module, nn.Linear):
                factor = inputs[:, 0]
            else:
                raise TypeError(f"{name}: VKDNW's Jacobian knows convolutions, BatchNorm and linear layers")
            per_class.append((g0 * factor).reshape(n, -1).sum(1))
        columns.append(torch.stack(per_class, 1))
    return out.detach(), torch.stack(columns, 2)


def _entropy(s: ProxySession) -> tuple[float, int]:
    net = s.net
    substitutes, _ = reinitialised(net, kaiming_normal, s.generator_for("vkdnw"))
    names = [name for name, _ in net.named_parameters()][:PARAMETER_TENSORS]
    x0 = s.batches[0][0]
    x = torch.randn(x0.shape, generator=s.generator_for("vkdnw_input"), device=x0.device)
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    was = [m.training for m in norms]
    try:
        for m in norms:
            m.eval()
        out, jac = first_element_jacobian(net, substitutes, names, x)
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
