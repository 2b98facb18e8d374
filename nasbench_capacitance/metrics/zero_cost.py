"""Zero-cost proxies: scores of the initialised network on one batch (definitions: ../shared/baselines.md §2).

Each measure computes what its reference implementation computes (zero-cost-nas
``foresight/pruners/measures``, NASLib ``predictors/utils/pruners/measures``, BayesWatch
nas-without-training, idstcv ZenNAS, VascoLopes EPE-NAS). The harness is the references' too:

- every measure runs on its own deep copy of the same initialised network, in train mode, so
  BatchNorm normalises with batch statistics;
- per-layer measures use the weights of every ``nn.Conv2d`` and ``nn.Linear`` (BatchNorm and biases
  excluded) and sum over all their elements;
- the batch is one class-balanced, seeded batch of the training split with the training
  augmentations on (the references take the first batch of a shuffled training loader);
- when the device runs out of memory the batch is split into equal chunks (the next divisor of the
  batch size) and gradients accumulate over chunks, as the references' ``split_data`` does;
- every score is higher-is-better with the reference's sign (NASLib's convention); synflow is
  log-transformed as NASLib does; synflow runs in float64 because its products overflow float32;
- a value that is not finite (e.g. jacob_cov of a cell whose output ignores its input) scores
  :data:`UNDEFINED_SCORE`, NASLib's convention, and the record keeps the reason.

Deliberate differences are named where they occur: the network is NB201's own (xautodl layout:
conv without bias, affine BN), not zero-cost-nas's rebuilt copy; GraSP accumulates the first-pass
gradient over all chunks (the reference keeps the last chunk's only, a bug that only shows when it
splits); eigenvalues come from ``eigvalsh`` (the references' ``eig`` can return complex values).
"""

from __future__ import annotations

import copy
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from ..data import DeviceImages
from ..model import build_network
from ..space import Arch
from . import Inputs, Metric, Values, register

Batches = list[tuple[torch.Tensor, torch.Tensor]]
Measure = Callable[[nn.Module, Batches, torch.Generator], float]
JACOBIAN_EPS = 1e-5  # k in jacob_cov and epe_nas
ZEN_MIXUP = 0.01  # x' = x + 0.01 ε (ZenNAS mixup_gamma)
UNDEFINED_SCORE = -1e8  # NASLib's score for a NaN/inf proxy value: such a cell ranks last


@dataclass
class ProxySetup:
    """The initialised network (never modified: measures get deep copies) and the batch they share."""

    network: nn.Module
    inputs: torch.Tensor  # (B, 3, H, W), normalised, training augmentations applied
    targets: torch.Tensor
    seed: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per proxy, filled as they run
    undefined: dict[str, str] = field(default_factory=dict)  # proxies whose value was not finite, and why

    def copy(self) -> nn.Module:
        return copy.deepcopy(self.network).train()

    def generator(self) -> torch.Generator:
        return torch.Generator(device=self.inputs.device).manual_seed(self.seed)


def make_setup(arch: "Arch | str | int", images: DeviceImages, *, C: int = 16, N: int = 5, num_classes: int = 10,
               batch_size: int = 64, seed: int = 0) -> ProxySetup:
    """NB201's network (linear head, PyTorch default initialisation, seeded) and one augmented batch."""
    with torch.random.fork_rng(devices=[images.device] if images.device.type == "cuda" else []):
        torch.manual_seed(seed)
        net = build_network(arch, C=C, N=N, num_classes=num_classes, head="linear").to(images.device)
    inputs, targets = images.fixed_batch(batch_size, seed=seed, augment=True)
    return ProxySetup(net, inputs, targets, seed)


# ----------------------------------------------------------------------------- harness


def weighted_layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def split_batch(x: torch.Tensor, y: torch.Tensor, splits: int) -> Batches:
    n = len(x)
    return [(x[i * n // splits:(i + 1) * n // splits], y[i * n // splits:(i + 1) * n // splits]) for i in range(splits)]


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or (isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc))


def run_with_batch_splitting(measure: Measure, setup: ProxySetup) -> float:
    """``measure`` on a fresh copy and the whole batch; on out-of-memory, again with more, equal chunks."""
    n, splits = len(setup.inputs), 1
    while True:
        try:
            return measure(setup.copy(), split_batch(setup.inputs, setup.targets, splits), setup.generator())
        except RuntimeError as exc:
            larger = [d for d in range(splits + 1, n + 1) if n % d == 0]
            if not is_out_of_memory(exc) or not larger:
                raise
            splits = larger[0]
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


def _weight_sum(net: nn.Module, value: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> float:
    """Σ over conv/linear layers of ``value(weight, grad)`` (layers without a gradient add nothing)."""
    total = torch.zeros((), dtype=torch.float64)
    for m in weighted_layers(net):
        if m.weight.grad is not None:
            total += value(m.weight.detach(), m.weight.grad).double().sum().cpu()
    return float(total)


def _loss_backward(net: nn.Module, batches: Batches) -> None:
    """Gradients of the cross-entropy, accumulated over the chunks (each chunk's mean loss)."""
    for x, y in batches:
        F.cross_entropy(net(x), y).backward()


# ----------------------------------------------------------------------------- gradient-based


def grad_norm(net: nn.Module, batches: Batches, _: torch.Generator) -> float:
    """Σ_l ‖∂L/∂θ_l‖₂: the sum of per-layer norms, not the global norm."""
    _loss_backward(net, batches)
    return _weight_sum(net, lambda w, g: g.norm())


def snip(net: nn.Module, batches: Batches, _: torch.Generator) -> float:
    """Σ |∂L/∂θ ⊙ θ| (the reference's |∂L/∂mask| with a ones mask, which is the same quantity)."""
    _loss_backward(net, batches)
    return _weight_sum(net, lambda w, g: (g * w).abs())


def plain(net: nn.Module, batches: Batches, _: torch.Generator) -> float:
    """Σ ∂L/∂θ ⊙ θ, signed (NASLib and zero-cost-nas ``plain``)."""
    _loss_backward(net, batches)
    return _weight_sum(net, lambda w, g: g * w)


def grasp(net: nn.Module, batches: Batches, _: torch.Generator) -> float:
    """−Σ θ ⊙ Hg: g from a first pass, Hg by differentiating ⟨g, ∂L/∂θ⟩ (temperature 1, one iteration)."""
    weights = [m.weight for m in weighted_layers(net)]
    first = [torch.zeros_like(w) for w in weights]
    for x, y in batches:
        grads = torch.autograd.grad(F.cross_entropy(net(x), y), weights, allow_unused=True)
        for acc, g in zip(first, grads):
            if g is not None:
                acc += g
    for x, y in batches:
        grads = torch.autograd.grad(F.cross_entropy(net(x), y), weights, create_graph=True, allow_unused=True)
        z = sum((g0 * g).sum() for g0, g in zip(first, grads) if g is not None)
        z.backward()
    return -_weight_sum(net, lambda w, hg: w * hg)


def fisher(net: nn.Module, batches: Batches, _: torch.Generator) -> float:
    """Channel Fisher information F_k = ½ mean_n (Σ_hw a·∂L/∂a)², broadcast to every weight of channel k.

    a is each conv/linear layer's output; the broadcast makes the score Σ_l Σ_k F_k · fan-in_l, as the
    reference reports it.
    """
    layers = weighted_layers(net)
    information: dict[nn.Module, torch.Tensor] = {}

    def accumulate(module: nn.Module, activation: torch.Tensor, grad: torch.Tensor) -> None:
        per_sample = (activation * grad).sum(tuple(range(2, activation.dim()))) if activation.dim() > 2 else activation * grad
        value = 0.5 * per_sample.pow(2).mean(0)
        information[module] = information[module] + value if module in information else value

    def hook(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        if output.requires_grad:
            activation = output.detach()
            output.register_hook(lambda grad: accumulate(module, activation, grad.detach()))

    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        for x, y in batches:
            net.zero_grad()
            F.cross_entropy(net(x), y).backward()
    finally:
        for h in handles:
            h.remove()
    total = sum(float(information[m].abs().double().sum()) * m.weight[0].numel() for m in layers if m in information)
    return float(total)


def _without_batchnorm(net: nn.Module) -> nn.Module:
    """Every BatchNorm replaced by identity (zero-cost-nas builds synflow's copy with ``bn=False``)."""
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(module, name, nn.Identity())
    return net


def synflow(net: nn.Module, batches: Batches, _: torch.Generator) -> float:
    """log Σ |θ ⊙ ∂R/∂θ| with R = Σ logits of an all-ones input through |θ|, BN removed, in float64.

    No data and no labels. The log follows NASLib: −log(−s) for negative s, and s = 0 (no weight
    reaches the output) stays 0, which ranks last because every NB201 cell with a path has s > 1.
    """
    net = _without_batchnorm(net).double()
    with torch.no_grad():
        for tensor in net.state_dict().values():
            tensor.abs_()
    x = torch.ones((1, *batches[0][0].shape[1:]), dtype=torch.float64, device=batches[0][0].device)
    net.zero_grad()
    net(x).sum().backward()
    s = _weight_sum(net, lambda w, g: (w * g).abs())
    if s > 0:
        return math.log(s)
    return -math.log(-s) if s < 0 else 0.0


def l2_norm(net: nn.Module, _batches: Batches, _: torch.Generator) -> float:
    """Σ_l ‖θ_l‖₂ at initialisation; no forward pass."""
    return float(sum(m.weight.detach().double().norm().cpu() for m in weighted_layers(net)))


# ----------------------------------------------------------------------------- activation-based


def input_jacobian(net: nn.Module, batches: Batches) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Rows ∂(Σ_c y_c)/∂x per sample, flattened (float64), their labels, and the number of logits."""
    rows, labels, classes = [], [], 0
    for x, y in batches:
        x = x.detach().clone().requires_grad_(True)
        out = net(x)
        out.backward(torch.ones_like(out))
        jac = x.grad if x.grad is not None else torch.zeros_like(x)  # None: the output ignores the input
        rows.append(jac.detach().flatten(1).double())
        labels.append(y)
        classes = out.shape[1]
    return torch.cat(rows), torch.cat(labels), classes


def jacob_cov(net: nn.Module, batches: Batches, _: torch.Generator) -> float:
    """−Σ_i [log(λ_i + k) + 1/(λ_i + k)] over the eigenvalues of the samples' Jacobian correlation matrix."""
    jacobian, _, _ = input_jacobian(net, batches)
    corr = torch.corrcoef(jacobian)
    if not torch.isfinite(corr).all():
        return math.nan  # a sample with a constant Jacobian row: the reference scores NaN too
    eig = torch.linalg.eigvalsh(corr)
    return float(-(torch.log(eig + JACOBIAN_EPS) + 1.0 / (eig + JACOBIAN_EPS)).sum())


def epe_nas(net: nn.Module, batches: Batches, _: torch.Generator) -> float:
    """Σ_c |Σ_ij log(|R_c,ij| + k)| with R_c the Jacobian correlations within class c (≤ 100 classes).

    With more than 100 logits each class score is divided by its size and the score is
    Σ_c Σ_c' |s_c − s_c'| / #classes, as in the reference.
    """
    jacobian, labels, classes = input_jacobian(net, batches)
    per_class = []
    for c in torch.unique(labels):
        rows = jacobian[labels == c]
        corr = torch.corrcoef(rows) if len(rows) > 1 else torch.ones(1, 1, dtype=rows.dtype, device=rows.device)
        score = torch.log(corr.abs() + JACOBIAN_EPS).sum()
        per_class.append(score / len(corr) if classes > 100 else score)
    s = torch.stack(per_class)
    if classes <= 100:
        return float(s.abs().sum())
    return float((s[:, None] - s[None, :]).abs().sum() / len(s))


def nwot(net: nn.Module, batches: Batches, _: torch.Generator) -> float:
    """log|det K| with K_ij = Σ over ReLU inputs of (#units − Hamming distance of the binary codes)."""
    codes: dict[nn.Module, list[torch.Tensor]] = defaultdict(list)

    def hook(module: nn.Module, inputs: tuple, _output: torch.Tensor) -> None:
        codes[module].append(inputs[0].detach().flatten(1) > 0)

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            for x, _ in batches:
                net(x)
    finally:
        for h in handles:
            h.remove()
    n = sum(len(x) for x, _ in batches)
    kernel = torch.zeros(n, n, dtype=torch.float64, device=batches[0][0].device)
    for parts in codes.values():
        c = torch.cat(parts).double()
        kernel += c @ c.T + (1 - c) @ (1 - c).T
    return float(torch.linalg.slogdet(kernel).logabsdet)


def zen(net: nn.Module, batches: Batches, generator: torch.Generator) -> float:
    """log mean_n Σ|f(x) − f(x + 0.01ε)| + Σ_BN log √mean(running_var), weights re-drawn from N(0, 1).

    f is the feature map before global pooling; x, ε ~ N(0, 1) of the batch's shape (no data, no
    labels). In train mode running_var becomes a momentum blend of 1 and the two batches' variances,
    which the reference's score includes, so it is kept.
    """
    if not hasattr(net, "feature_map"):
        raise TypeError("zen needs a network with feature_map() (the features before global pooling)")
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.normal_(generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
                m.weight.fill_(1.0)
                m.bias.zero_()
        deltas = []
        for x, _ in batches:
            a = torch.randn(x.shape, generator=generator, device=x.device)
            b = torch.randn(x.shape, generator=generator, device=x.device)
            deltas.append((net.feature_map(a) - net.feature_map(a + ZEN_MIXUP * b)).abs().sum((1, 2, 3)))
        delta = torch.cat(deltas).double().mean()
        bn_scale = sum(torch.log(torch.sqrt(m.running_var.double().mean())) for m in net.modules()
                       if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_var is not None)
    return float(torch.log(delta) + bn_scale)


# ----------------------------------------------------------------------------- registry


def _register(name: str, measure: Measure, description: str, reference: str) -> None:
    def raw(inputs: Inputs) -> Values:
        if inputs.setup is None:
            raise ValueError(f"{name} is a zero-cost proxy: it needs the initialised network and a batch (metrics.zero_cost.make_setup)")
        start = time.perf_counter()
        value = run_with_batch_splitting(measure, inputs.setup)
        inputs.setup.timings[name] = time.perf_counter() - start
        if not math.isfinite(value):
            inputs.setup.undefined[name] = f"value {value}: scored {UNDEFINED_SCORE:g} (NASLib's convention)"
            value = UNDEFINED_SCORE
        return {"0": value}

    register(Metric(name, +1, "init", description, raw, reference))


_register("grad_norm", grad_norm, "Σ of per-layer gradient norms at initialisation", "zero-cost-nas measures/grad_norm.py")
_register("snip", snip, "SNIP saliency Σ|g ⊙ θ| at initialisation", "zero-cost-nas measures/snip.py")
_register("grasp", grasp, "GraSP −Σ θ ⊙ Hg at initialisation", "zero-cost-nas measures/grasp.py")
_register("fisher", fisher, "channel Fisher information, fan-in weighted", "zero-cost-nas measures/fisher.py")
_register("jacob_cov", jacob_cov, "NASWOT v1 Jacobian covariance score", "zero-cost-nas measures/jacob_cov.py")
_register("synflow", synflow, "log SynFlow (data-free, float64)", "zero-cost-nas measures/synflow.py; NASLib log")
_register("nwot", nwot, "NASWOT v2: log|det| of the ReLU Hamming kernel", "nas-without-training score_networks.py")
_register("zen", zen, "Zen-score (Gaussian weights and inputs, BN scaling)", "ZenNAS compute_zen_score.py")
_register("l2_norm", l2_norm, "Σ of per-layer weight norms at initialisation", "NASLib measures/l2_norm.py")
_register("plain", plain, "Σ g ⊙ θ at initialisation (signed)", "zero-cost-nas measures/plain.py")
_register("epe_nas", epe_nas, "EPE-NAS per-class Jacobian correlation score", "EPE-NAS search.py; NASLib epe_nas.py")
