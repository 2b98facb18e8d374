"""Zero-cost proxies: scores of the initialised network on one batch (definitions: docs/baselines.md).

Each measure computes what its reference implementation computes (zero-cost-nas
``foresight/pruners/measures``, NASLib ``predictors/utils/pruners/measures``, BayesWatch
nas-without-training, idstcv ZenNAS, VascoLopes EPE-NAS). The harness is the references' too:

- every measure sees the same initialised network in train mode, so BatchNorm normalises with
  batch statistics; no measure modifies it (synflow and zen substitute their weights through
  ``torch.func.functional_call``), so one network serves all of them without copies;
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

Proxies that read the same pass share it (:class:`ProxySession`): nwot, jacob_cov and epe_nas one
forward with input gradients; grad_norm, snip, plain, fisher and grasp one loss gradient (grasp's
Hessian-gradient product is taken from the same graph). The references run every proxy on its own
copy with its own passes; the values are the same up to float rounding (``tests/test_zero_cost.py``).

Deliberate differences are named where they occur: the network is NB201's own (xautodl layout:
conv without bias, affine BN), not zero-cost-nas's rebuilt copy; GraSP accumulates the first-pass
gradient over all chunks (the reference keeps the last chunk's only, a bug that only shows when it
splits); eigenvalues come from ``eigvalsh`` (the references' ``eig`` can return complex values).
"""

from __future__ import annotations

import contextlib
import math
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from ..capacitance.probe import CapacitanceProbe, ProbeRecorder
from ..data.cifar10 import DeviceImages
from ..nb201.model import build_network
from ..nb201.space import Arch
from ..training import probe_features
from . import Proxy, available, get, metric

Batches = list[tuple[torch.Tensor, torch.Tensor]]
T = TypeVar("T")
JACOBIAN_EPS = 1e-5  # k in jacob_cov and epe_nas
ZEN_MIXUP = 0.01  # x' = x + 0.01 ε (ZenNAS mixup_gamma)
UNDEFINED_SCORE = -1e8  # NASLib's score for a NaN/inf proxy value: such a cell ranks last
RUNNING_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")
SECOND_BATCH_SEED = 7919  # the second batch's seed is the proxies' seed plus this (another draw of images)


# ----------------------------------------------------------------------------- harness


def weighted_layers(net: nn.Module) -> list[nn.Conv2d | nn.Linear]:
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def batchnorms(net: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def split_batch(x: torch.Tensor, y: torch.Tensor, splits: int) -> Batches:
    n = len(x)
    return [
        (x[i * n // splits : (i + 1) * n // splits], y[i * n // splits : (i + 1) * n // splits]) for i in range(splits)
    ]


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)
    )


@contextlib.contextmanager
def _forward_hooks(modules: Sequence[nn.Module], hook: Callable) -> Iterator[None]:
    """``hook`` on the forward of every module in ``modules`` for the duration of the block."""
    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _accumulate(total: torch.Tensor | None, value: torch.Tensor) -> torch.Tensor:
    return value if total is None else total + value


def _sum(values: list[torch.Tensor]) -> float:
    """A float64 sum of per-layer tensors, on the CPU."""
    return float(sum((v.detach().double().sum().cpu() for v in values), torch.zeros((), dtype=torch.float64)))


@dataclass
class Activations:
    """One forward with input gradients: the samples' input Jacobians and the ReLU inputs' sign codes."""

    jacobian: torch.Tensor  # (n, features), float64: ∂(Σ_c y_c)/∂x per sample
    labels: torch.Tensor
    classes: int
    codes: list[torch.Tensor]  # per ReLU: (n, units) bool, input > 0


@dataclass
class _Forward:
    """One chunk's forward in train mode, its input a leaf: the output and what the hooks recorded."""

    x: torch.Tensor
    y: torch.Tensor
    out: torch.Tensor = field(init=False)
    codes: list[torch.Tensor] = field(default_factory=list)  # per ReLU: (n, units) bool, input > 0
    outputs: dict[nn.Module, torch.Tensor] = field(default_factory=dict)  # per weighted layer, with its graph
    features: torch.Tensor | None = None  # what the head reads, detached

    def keep_code(self, _m: nn.Module, inputs: tuple, _o: torch.Tensor) -> None:
        self.codes.append(inputs[0].detach().flatten(1) > 0)

    def keep_output(self, module: nn.Module, _i: tuple, output: torch.Tensor) -> None:
        self.outputs[module] = output

    def keep_features(self, _m: nn.Module, inputs: tuple) -> None:
        self.features = inputs[0].detach()


@dataclass
class Gradients:
    """One loss pass: per weighted layer the gradient, channel Fisher information and (if asked) Hg."""

    weights: list[torch.Tensor]
    grads: list[torch.Tensor | None]  # None: the layer does not reach the loss
    fisher: list[torch.Tensor | None]
    fan_in: list[int]
    hessian_grads: list[torch.Tensor | None] | None  # H·g for grasp, when the session wants it


class ProxySession:
    """The passes of one network on one batch, each run once and shared by every proxy that reads it.

    ``hessian``: also take the Hessian-gradient product (grasp) from the loss pass's graph; it costs a
    double backward, so it is only done when grasp is among the proxies asked for. ``seconds`` holds
    each proxy's cost: its own work plus an equal share of every pass it reads.
    """

    def __init__(
        self,
        net: nn.Module,
        batches: Batches,
        generator: torch.Generator,
        hessian: bool = False,
        sharing: dict[str, int] | None = None,
        second: Batches | None = None,
    ):
        self.net, self.batches, self.generator, self.hessian = net.train(), batches, generator, hessian
        self.second = second or []  # a second batch of the same size (ZiCo's gradient statistics need two)
        self.sharing = sharing or {}  # pass name -> how many requested proxies read it (cost attribution)
        self._products: dict[str, object] = {}
        self._pass_seconds: dict[str, float] = {}
        self.seconds: dict[str, float] = {}

    def shared(self, name: str, compute: Callable[[ProxySession], T]) -> T:
        """``compute(session)`` once per session under ``name``, for every proxy that declares that pass
        (a plug-in's proxies may define passes of their own this way)."""
        return self._pass(name, lambda: compute(self))

    def generator_for(self, name: str) -> torch.Generator:
        """A generator of its own for one pass's random draws, seeded from the session's seed and the pass's
        name: a pass draws the same numbers whichever other proxies run beside it."""
        seed = (self.generator.initial_seed() * 1_000_003 + zlib.crc32(name.encode())) % 2**63
        device = self.batches[0][0].device
        return torch.Generator(device=device).manual_seed(seed)

    def _pass(self, name: str, compute: Callable[[], T]) -> T:
        if name not in self._products:
            start, inner = time.perf_counter(), sum(self._pass_seconds.values())
            self._products[name] = compute()
            # exclusive of the passes it ran inside (the loss pass runs the shared forward)
            self._pass_seconds[name] = time.perf_counter() - start - (sum(self._pass_seconds.values()) - inner)
        return self._products[name]  # type: ignore[return-value]

    @property
    def activations(self) -> Activations:
        return self._pass("activations", self._activations)

    @property
    def gradients(self) -> Gradients:
        return self._pass("gradients", self._gradients)

    def value(self, name: str) -> float:
        """The raw value of one proxy (not yet sign-corrected or checked for finiteness)."""
        proxy = _proxy(name)
        known = set(self._pass_seconds)
        start = time.perf_counter()
        value = proxy.formula(self)
        own = time.perf_counter() - start - sum(s for p, s in self._pass_seconds.items() if p not in known)
        shared = sum(
            self._pass_seconds[p] / max(1, self.sharing.get(p, 1)) for p in proxy.passes if p in self._pass_seconds
        )
        self.seconds[name] = own + shared
        return value

    def _forwards(self) -> list[_Forward]:
        """One forward per chunk with the input as a leaf, recording what the loss and activation passes
        and beta_init read, so that they share it (its graph is kept until the session ends). BatchNorm
        normalises with the batch's statistics; its running statistics are restored afterwards."""
        relus = [m for m in self.net.modules() if isinstance(m, nn.ReLU)]
        layers = weighted_layers(self.net)
        head = getattr(self.net, "head", None)
        norms = [m for m in batchnorms(self.net) if m.track_running_stats]
        kept = [tuple(cast(torch.Tensor, getattr(m, k)).clone() for k in RUNNING_STATISTICS) for m in norms]
        forwards = []
        for x, y in self.batches:
            x = x.detach().clone().requires_grad_(True)
            record = _Forward(x, y)
            hooks = [m.register_forward_hook(record.keep_code) for m in relus if self._wants("codes")]
            hooks += [m.register_forward_hook(record.keep_output) for m in layers if self._wants("gradients")]
            if isinstance(head, nn.Module):
                hooks.append(head.register_forward_pre_hook(record.keep_features))
            try:
                record.out = self.net(x)
            finally:
                for h in hooks:
                    h.remove()
            forwards.append(record)
        # the network is left as it was (running statistics are not the proxies' to move): the saved
        # copies take the buffers' places, as the graph holds the moved ones and checks they stay put
        for m, saved in zip(norms, kept):
            for k, tensor in zip(RUNNING_STATISTICS, saved):
                setattr(m, k, tensor)
        return forwards

    def _wants(self, name: str) -> bool:
        """Whether a proxy asked for reads pass ``name`` (all are assumed wanted when nobody said)."""
        return not self.sharing or name in self.sharing

    @property
    def forwards(self) -> list[_Forward]:
        return self._pass("forward", self._forwards)

    def _activations(self) -> Activations:
        rows, labels, classes, codes = [], [], 0, []
        for record in self.forwards:
            out, x = record.out, record.x
            (jac,) = torch.autograd.grad(out, x, torch.ones_like(out), retain_graph=True, allow_unused=True)
            jac = jac if jac is not None else torch.zeros_like(x)  # None: the output ignores the input
            rows.append(jac.detach().flatten(1).double())
            labels.append(record.y)
            classes = out.shape[1]
            codes.append(record.codes)
        per_relu = [torch.cat(parts) for parts in zip(*codes)]
        return Activations(torch.cat(rows), torch.cat(labels), classes, per_relu)

    def _gradients(self) -> Gradients:
        layers = weighted_layers(self.net)
        weights = [m.weight for m in layers]
        grads: list[torch.Tensor | None] = [None] * len(layers)
        fisher: list[torch.Tensor | None] = [None] * len(layers)
        fused = self.hessian and len(self.batches) == 1  # Hg from this pass's graph: one forward fewer
        graph_grads: tuple[torch.Tensor | None, ...] = ()
        for record in self.forwards:
            loss = F.cross_entropy(record.out, record.y)
            outputs = record.outputs
            live = {slot: outputs[m] for slot, m in enumerate(layers) if m in outputs and outputs[m].requires_grad}
            slots = list(live)
            everything = torch.autograd.grad(
                loss, [*weights, *(live[s] for s in slots)], create_graph=fused, retain_graph=True, allow_unused=True
            )
            graph_grads = everything[: len(weights)]
            for slot, g in enumerate(graph_grads):
                if g is not None:
                    grads[slot] = _accumulate(grads[slot], g.detach())
            for slot, g_out in zip(slots, everything[len(weights) :]):
                if g_out is None:
                    continue
                a, g_out = live[slot].detach(), g_out.detach()
                per_sample = (a * g_out).sum(tuple(range(2, a.dim()))) if a.dim() > 2 else a * g_out
                value = 0.5 * per_sample.pow(2).mean(0)
                fisher[slot] = _accumulate(fisher[slot], value)
        hessian_grads = None
        if fused:
            hessian_grads = self._hessian_product(weights, [graph_grads], grads)
        elif self.hessian:
            hessian_grads = self._hessian_product(weights, None, grads)
        return Gradients(
            [w.detach() for w in weights], grads, fisher, [m.weight[0].numel() for m in layers], hessian_grads
        )

    def _hessian_product(
        self, weights: list[torch.Tensor], graphs: list[tuple] | None, first: list[torch.Tensor | None]
    ) -> list[torch.Tensor | None]:
        """H·g with g the first pass's gradient: ∂⟨g, ∂L/∂θ⟩/∂θ, from given graphs or one more pass per chunk."""
        if graphs is None:
            graphs = [
                torch.autograd.grad(F.cross_entropy(self.net(x), y), weights, create_graph=True, allow_unused=True)
                for x, y in self.batches
            ]
        total: list[torch.Tensor | None] = [None] * len(weights)
        for graph in graphs:
            z = sum((g0 * g).sum() for g0, g in zip(first, graph) if g is not None and g0 is not None)
            if not isinstance(z, torch.Tensor) or not z.requires_grad:
                continue  # no weight reaches the loss
            for slot, hg in enumerate(torch.autograd.grad(z, weights, retain_graph=True, allow_unused=True)):
                if hg is not None:
                    total[slot] = _accumulate(total[slot], hg)
        return total


# ----------------------------------------------------------------------------- the proxies' formulas


def _over_gradients(s: ProxySession, term: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> float:
    """Σ over weighted layers that reach the loss of ``term(weight, gradient)``."""
    g = s.gradients
    return _sum([term(w, grad) for w, grad in zip(g.weights, g.grads) if grad is not None])


@metric(
    "grad_norm",
    kind="init",
    passes=("gradients",),
    iso_invariant=True,
    description="Σ of per-layer gradient norms at initialisation",
    reference="zero-cost-nas measures/grad_norm.py",
)
def _grad_norm(s: ProxySession) -> float:
    """Σ_l ‖∂L/∂θ_l‖₂: the sum of per-layer norms, not the global norm."""
    return _over_gradients(s, lambda w, g: g.norm())


@metric(
    "snip",
    kind="init",
    passes=("gradients",),
    iso_invariant=True,
    description="SNIP saliency Σ|g ⊙ θ| at initialisation",
    reference="zero-cost-nas measures/snip.py",
)
def _snip(s: ProxySession) -> float:
    """Σ |∂L/∂θ ⊙ θ| (the reference's |∂L/∂mask| with a ones mask, which is the same quantity)."""
    return _over_gradients(s, lambda w, g: (g * w).abs())


@metric(
    "plain",
    kind="init",
    passes=("gradients",),
    iso_invariant=True,
    description="Σ g ⊙ θ at initialisation (signed)",
    reference="zero-cost-nas measures/plain.py",
)
def _plain(s: ProxySession) -> float:
    """Σ ∂L/∂θ ⊙ θ, signed (NASLib and zero-cost-nas ``plain``)."""
    return _over_gradients(s, lambda w, g: g * w)


@metric(
    "grasp",
    kind="init",
    passes=("gradients", "hessian"),
    iso_invariant=True,
    description="GraSP −Σ θ ⊙ Hg at initialisation",
    reference="zero-cost-nas measures/grasp.py",
)
def _grasp(s: ProxySession) -> float:
    """−Σ θ ⊙ Hg: g the loss gradient, Hg by differentiating ⟨g, ∂L/∂θ⟩ (temperature 1, one iteration)."""
    g = s.gradients
    if g.hessian_grads is None:
        raise RuntimeError("grasp needs a session created with hessian=True")
    return -_sum([w * hg for w, hg in zip(g.weights, g.hessian_grads) if hg is not None])


@metric(
    "fisher",
    kind="init",
    passes=("gradients",),
    iso_invariant=True,
    description="channel Fisher information, fan-in weighted",
    reference="zero-cost-nas measures/fisher.py",
)
def _fisher(s: ProxySession) -> float:
    """Channel Fisher information F_k = ½ mean_n (Σ_hw a·∂L/∂a)², broadcast to every weight of channel k.

    a is each conv/linear layer's output; the broadcast makes the score Σ_l Σ_k F_k · fan-in_l, as the
    reference reports it.
    """
    g = s.gradients
    return float(sum(float(f.abs().double().sum()) * fan_in for f, fan_in in zip(g.fisher, g.fan_in) if f is not None))


@metric(
    "jacob_cov",
    kind="init",
    passes=("activations",),
    iso_invariant=True,
    description="NASWOT v1 Jacobian covariance score",
    reference="zero-cost-nas measures/jacob_cov.py",
)
def _jacob_cov(s: ProxySession) -> float:
    """−Σ_i [log(λ_i + k) + 1/(λ_i + k)] over the eigenvalues of the samples' Jacobian correlation matrix."""
    corr = torch.corrcoef(s.activations.jacobian)
    if not torch.isfinite(corr).all():
        return math.nan  # a sample with a constant Jacobian row: the reference scores NaN too
    eig = torch.linalg.eigvalsh(corr)
    return float(-(torch.log(eig + JACOBIAN_EPS) + 1.0 / (eig + JACOBIAN_EPS)).sum())


@metric(
    "epe_nas",
    kind="init",
    passes=("activations",),
    iso_invariant=True,
    description="EPE-NAS per-class Jacobian correlation score",
    reference="EPE-NAS search.py; NASLib epe_nas.py",
)
def _epe_nas(s: ProxySession) -> float:
    """Σ_c |Σ_ij log(|R_c,ij| + k)| with R_c the Jacobian correlations within class c (≤ 100 classes).

    With more than 100 logits each class score is divided by its size and the score is
    Σ_c Σ_c' |s_c − s_c'| / #classes, as in the reference.
    """
    a = s.activations
    per_class = []
    for c in torch.unique(a.labels):
        rows = a.jacobian[a.labels == c]
        corr = torch.corrcoef(rows) if len(rows) > 1 else torch.ones(1, 1, dtype=rows.dtype, device=rows.device)
        score = torch.log(corr.abs() + JACOBIAN_EPS).sum()
        per_class.append(score / len(corr) if a.classes > 100 else score)
    values = torch.stack(per_class)
    if a.classes <= 100:
        return float(values.abs().sum())
    return float((values[:, None] - values[None, :]).abs().sum() / len(values))


@metric(
    "nwot",
    kind="init",
    passes=("codes",),
    iso_invariant=False,
    description="NASWOT v2: log|det| of the ReLU Hamming kernel",
    reference="nas-without-training score_networks.py",
)
def _nwot(s: ProxySession) -> float:
    """log|det K| with K_ij = Σ over ReLU inputs of (#units − Hamming distance of the binary codes)."""
    per_chunk = [torch.cat(f.codes, dim=1) for f in s.forwards]  # no input gradient needed: the forward alone
    codes = torch.cat(per_chunk).float()  # (n, all units); float32 counts are exact below 2^24
    kernel = codes @ codes.T + (1 - codes) @ (1 - codes).T
    return float(torch.linalg.slogdet(kernel.double()).logabsdet)


@metric(
    "beta_init",
    kind="init",
    passes=("forward",),
    iso_invariant=True,
    description="−β_eff (gradient) of a seeded capacitance probe on the initialised network's features",
    reference="this project: docs/beta_study.md",
)
def _beta_init(s: ProxySession) -> float:
    """−β_eff (gradient strategy) of a fresh, seeded capacitance probe reading the initialised network's
    features: the one β_eff reading that ranks NB201 (docs/beta_study.md). Negated, so higher is better.

    The probe's weights come from their own generator (the session's seed), so this proxy draws nothing
    from the session's generator and the others score the same with or without it. A cell whose output
    is cut off from its input (341 NB201 cells, all at chance) gives the same features for every image;
    β_eff would be 0 and rank it first, but the kernel calls it undefined (it describes no learning at
    all), so the cell gets :data:`UNDEFINED_SCORE` and ranks last.
    """
    recorded = [f.features for f in s.forwards]
    if any(f is None for f in recorded):  # a network without a head module: its own forward
        recorded = [probe_features(s.net, x, "batch") for x, _ in s.batches]
    features = torch.cat(cast(list[torch.Tensor], recorded))
    labels = torch.cat([y for _, y in s.batches])
    with torch.no_grad():
        head = cast(nn.Module, s.net.head)
        classes = head(features[:1]).shape[1]  # the probe takes the head's place: as many outputs
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s.generator.initial_seed())
        probe = CapacitanceProbe(features.shape[1], classes).to(features.device)
    recorder = ProbeRecorder(probe, ("gradient",))
    recorder.snapshot(0.0, 0, features, labels)
    return -float(recorder.result().beta("gradient").values[0])


@metric(
    "synflow",
    kind="init",
    passes=(),
    iso_invariant=True,
    description="log SynFlow (data-free, float64)",
    reference="zero-cost-nas measures/synflow.py; NASLib log",
)
def _synflow(s: ProxySession) -> float:
    """log Σ |θ ⊙ ∂R/∂θ| with R = Σ logits of an all-ones input through |θ|, BN bypassed, in float64.

    No data and no labels. The reference removes BatchNorm; here every BN runs in eval mode with zero
    mean, unit variance, unit scale and ``eps = 0``, which is the identity exactly. The log follows
    NASLib: −log(−s) for negative s, and s = 0 (no weight reaches the output) stays 0, which ranks last
    because every NB201 cell with a path has s > 1.
    """
    net, x0 = s.net, s.batches[0][0]
    layers = dict.fromkeys(weighted_layers(net))
    substitutes: dict[str, torch.Tensor] = {}
    leaves: list[torch.Tensor] = []
    for module_name, module in net.named_modules():
        prefix = f"{module_name}." if module_name else ""
        for name, tensor in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]:
            if module in layers:
                value = tensor.detach().abs().double()
                if name == "weight":
                    value.requires_grad_(True)
                    leaves.append(value)
            elif name in ("running_var", "weight"):
                value = torch.ones_like(tensor, dtype=torch.float64)
            elif name in ("running_mean", "bias"):
                value = torch.zeros_like(tensor, dtype=torch.float64)
            else:
                continue  # num_batches_tracked: unused in eval mode
            substitutes[prefix + name] = value
    bns = batchnorms(net)
    saved = [(m.training, m.eps) for m in bns]
    try:
        for m in bns:
            m.train(False)
            m.eps = 0.0
        x = torch.ones((1, *x0.shape[1:]), dtype=torch.float64, device=x0.device)
        out = functional_call(net, substitutes, (x,))
    finally:
        for m, (training, eps) in zip(bns, saved):
            m.train(training)
            m.eps = eps
    grads = torch.autograd.grad(out.sum(), leaves, allow_unused=True)
    total = _sum([(w * g).abs() for w, g in zip(leaves, grads) if g is not None])
    if total > 0:
        return math.log(total)
    return -math.log(-total) if total < 0 else 0.0


def reinitialised(
    module: nn.Module, draw: Callable[[torch.Tensor, torch.Generator], torch.Tensor], generator: torch.Generator
) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
    """Substitute parameters for a re-initialised copy of ``module``, for ``functional_call`` (the module itself
    is never touched): conv and linear weights drawn by ``draw``, biases 0, BatchNorm scale 1 and shift 0 with
    fresh running statistics. Also the substituted running variances (zen reads them after the passes)."""
    substitutes: dict[str, torch.Tensor] = {}
    running_vars: list[torch.Tensor] = []
    with torch.no_grad():
        for module_name, m in module.named_modules():
            prefix = f"{module_name}." if module_name else ""
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                substitutes[prefix + "weight"] = draw(torch.empty_like(m.weight), generator)
                if m.bias is not None:
                    substitutes[prefix + "bias"] = torch.zeros_like(m.bias)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                if m.affine:
                    substitutes[prefix + "weight"] = torch.ones_like(m.weight)
                    substitutes[prefix + "bias"] = torch.zeros_like(m.bias)
                if m.running_var is not None and m.running_mean is not None:
                    substitutes[prefix + "running_mean"] = torch.zeros_like(m.running_mean)
                    substitutes[prefix + "running_var"] = torch.ones_like(m.running_var)
                    substitutes[prefix + "num_batches_tracked"] = torch.zeros((), dtype=torch.long)
                    running_vars.append(substitutes[prefix + "running_var"])
    return substitutes, running_vars


def standard_normal(tensor: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return tensor.normal_(generator=generator)


def kaiming_normal(tensor: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Kaiming-normal for ReLU by fan-in (AZ-NAS's and VKDNW's ``kaiming_norm_fanin``)."""
    return nn.init.kaiming_normal_(tensor, mode="fan_in", nonlinearity="relu", generator=generator)


@metric(
    "zen",
    kind="init",
    passes=(),
    iso_invariant=False,
    description="Zen-score (Gaussian weights and inputs, BN scaling)",
    reference="ZenNAS compute_zen_score.py",
)
def _zen(s: ProxySession) -> float:
    """log mean_n Σ|f(x) − f(x + 0.01ε)| + Σ_BN log √mean(running_var), weights re-drawn from N(0, 1).

    f is the feature map before global pooling; x, ε ~ N(0, 1) of the batch's shape (no data, no
    labels). BN keeps batch statistics (train mode) with fresh running statistics, which the two
    forwards update; the reference's score includes them, so it is kept. The network's own weights
    are never touched: the re-drawn ones are substituted for the call.
    """
    net = s.net
    if not hasattr(net, "feature_map"):
        raise TypeError("zen needs a network with feature_map() (the features before global pooling)")
    wrapper = _FeatureMap(net)
    substitutes, running_vars = reinitialised(wrapper, standard_normal, s.generator)
    with torch.no_grad():
        deltas = []
        for x, _ in s.batches:
            a = torch.randn(x.shape, generator=s.generator, device=x.device)
            b = torch.randn(x.shape, generator=s.generator, device=x.device)
            clean = functional_call(wrapper, substitutes, (a,))
            mixed = functional_call(wrapper, substitutes, (a + ZEN_MIXUP * b,))
            deltas.append((clean - mixed).abs().sum((1, 2, 3)))
        delta = torch.cat(deltas).double().mean()
        bn_scale = sum(torch.log(torch.sqrt(v.double().mean())) for v in running_vars)
    return float(torch.log(delta) + bn_scale)


class _FeatureMap(nn.Module):
    """``net.feature_map`` as a module's forward, so that ``functional_call`` can substitute its weights."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self.net, "feature_map")(x)  # noqa: B009  (checked by _zen)


@metric(
    "l2_norm",
    kind="init",
    passes=(),
    iso_invariant=False,
    description="Σ of per-layer weight norms at initialisation",
    reference="NASLib measures/l2_norm.py",
)
def _l2_norm(s: ProxySession) -> float:
    """Σ_l ‖θ_l‖₂ at initialisation; no forward pass."""
    return float(sum(m.weight.detach().double().norm().cpu() for m in weighted_layers(s.net)))


# ----------------------------------------------------------------------------- the proxies and how they are run


def run_with_batch_splitting(measure: Callable[[int], T], n: int) -> T:
    """``measure(1)`` on the whole batch of ``n``; on out-of-memory, again in more equal chunks
    (``measure(chunks)``)."""
    splits = 1
    while True:
        try:
            return measure(splits)
        except RuntimeError as exc:
            larger = [d for d in range(splits + 1, n + 1) if n % d == 0]
            if not is_out_of_memory(exc) or not larger:
                raise
            splits = larger[0]
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


@dataclass
class ProxySetup:
    """The initialised network (never modified) and the batch every proxy reads; scores are computed once."""

    network: nn.Module
    inputs: torch.Tensor  # (B, 3, H, W), normalised, training augmentations applied
    targets: torch.Tensor
    seed: int = 0
    second: tuple[torch.Tensor, torch.Tensor] | None = None  # a second batch of the same size, seeded apart
    timings: dict[str, float] = field(default_factory=dict)  # seconds per proxy, filled as they run
    undefined: dict[str, str] = field(default_factory=dict)  # proxies whose value was not finite, and why
    values: dict[str, float] = field(default_factory=dict)  # raw values computed so far
    errors: dict[str, Exception] = field(default_factory=dict)  # proxies that raised, kept to re-raise on request

    def generator(self) -> torch.Generator:
        return torch.Generator(device=self.inputs.device).manual_seed(self.seed)

    def compute(self, names: list[str]) -> None:
        """Raw values of ``names`` in one session: every pass they share runs once."""
        todo = [n for n in dict.fromkeys(names) if n not in self.values and n not in self.errors]
        if not todo:
            return
        sharing: dict[str, int] = {}
        for name in todo:
            for p in _proxy(name).passes:
                sharing[p] = sharing.get(p, 0) + 1

        def measure(splits: int) -> dict[str, float]:
            hessian = any("hessian" in _proxy(n).passes for n in todo)
            batches = split_batch(self.inputs, self.targets, splits)
            second = split_batch(*self.second, splits) if self.second is not None else None
            session = ProxySession(
                self.network.train(), batches, self.generator(), hessian=hessian, sharing=sharing, second=second
            )
            values = {}
            for name in todo:
                try:
                    values[name] = session.value(name)
                except Exception as exc:  # one proxy failing (a singular matrix, say) does not lose the others
                    if is_out_of_memory(exc):
                        raise
                    self.errors[name] = exc
            self.timings.update(session.seconds)
            return values

        self.values.update(run_with_batch_splitting(measure, len(self.inputs)))

    def score(self, name: str) -> float:
        """The proxy's score; a value that is not finite becomes :data:`UNDEFINED_SCORE`, its reason kept."""
        self.compute([name])
        if name in self.errors:
            raise self.errors[name]
        value = self.values[name]
        if not math.isfinite(value):
            self.undefined[name] = f"value {value}: scored {UNDEFINED_SCORE:g} (NASLib's convention)"
            return UNDEFINED_SCORE
        return value


def make_setup(
    arch: Arch | str | int,
    images: DeviceImages,
    *,
    C: int = 16,
    N: int = 5,
    num_classes: int = 10,
    batch_size: int = 64,
    seed: int = 0,
) -> ProxySetup:
    """NB201's network (linear head, PyTorch default initialisation, seeded) and one augmented batch."""
    with torch.random.fork_rng(devices=[images.device] if images.device.type == "cuda" else []):
        torch.manual_seed(seed)
        net = build_network(arch, C=C, N=N, num_classes=num_classes, head="linear").to(images.device)
    inputs, targets = images.fixed_batch(batch_size, seed=seed, augment=True)
    second = images.fixed_batch(batch_size, seed=seed + SECOND_BATCH_SEED, augment=True)
    return ProxySetup(net, inputs, targets, seed, second)


def measure(name: str) -> Callable[[nn.Module, Batches, torch.Generator | None], float]:
    """One proxy as a function of (network, batches, generator), on its own session: the references' form."""

    def run(net: nn.Module, batches: Batches, generator: torch.Generator | None = None) -> float:
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        return ProxySession(net, batches, generator, hessian="hessian" in _proxy(name).passes).value(name)

    run.__name__ = name
    run.__doc__ = _proxy(name).formula.__doc__
    return run


def _proxy(name: str) -> Proxy:
    proxy = get(name).proxy
    if proxy is None:
        raise ValueError(f"{name} is not a zero-cost proxy; those are: {', '.join(available('init'))}")
    return proxy
