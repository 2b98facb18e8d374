"""The capacitance probe: an MLP head whose training dynamics the capacitance kernel reads.

The probe replaces NB201's linear classifier. It is trained with the backbone, and a
:class:`ProbeRecorder` takes snapshots of its weight matrices (and, for the ``gradient`` and
``hessian`` strategies, statistics on a fixed probe batch) at scheduled times. The recorder only
collects tensors; :mod:`nasbench_capacitance.capacitance` turns them into β_eff.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from . import kernel

# Two hidden layers is the minimum for a nonzero β_eff (only hidden-to-hidden weights have both an
# incoming and an outgoing line-graph edge). Width 64 equals the pooled feature width of NB201 at
# C=16, so the probe neither bottlenecks the features nor outweighs the backbone (about 9k weights
# against 0.1-1.5M), and the gradient kernel costs O(batch * 64^3) per snapshot.
DEFAULT_HIDDEN: tuple[int, ...] = (64, 64)
MIN_HIDDEN_LAYERS = 2


class CapacitanceProbe(nn.Module):
    """ReLU MLP ``in_features -> hidden... -> num_classes``."""

    def __init__(self, in_features: int, num_classes: int, hidden: tuple[int, ...] | None = None):
        super().__init__()
        hidden = tuple(DEFAULT_HIDDEN if hidden is None else hidden)
        if len(hidden) < MIN_HIDDEN_LAYERS or min(hidden) < 1:
            raise ValueError(
                f"the capacitance probe needs at least two hidden layers of positive width, got {hidden}: "
                "with one hidden layer β_eff is always 0"
            )
        self.widths = (in_features, *hidden, num_classes)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(self.widths[:-1], self.widths[1:]))

    @property
    def linears(self) -> list[nn.Linear]:
        """The layers, typed: W^l is ``linears[l - 1].weight``."""
        return [layer for layer in self.layers if isinstance(layer, nn.Linear)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *hidden, last = self.linears
        for layer in hidden:
            x = F.relu(layer(x))
        return last(x)

    def weight_matrices(self) -> list[torch.Tensor]:
        """Detached copies of W¹…W^L, each (n_l, n_{l-1})."""
        return [layer.weight.detach().clone() for layer in self.linears]

    def coupling_stats(self, features: torch.Tensor, labels: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """Per-sample a^{l-1}, σ'(z^l) and δ^l = ∂ℓ/∂z^l on a batch, for the ``gradient`` strategy."""
        with torch.enable_grad():
            layers = self.linears
            h = features.detach().to(layers[0].weight.dtype)
            inputs, slopes, pre = [], [], []
            for l, layer in enumerate(layers):
                inputs.append(h.detach())
                z = layer(h)
                pre.append(z)
                if l < len(layers) - 1:
                    slopes.append((z > 0).to(z.dtype).detach())
                    h = F.relu(z)
            loss = F.cross_entropy(pre[-1], labels, reduction="sum")  # sum: per-sample δ
            deltas = torch.autograd.grad(loss, pre)
        return {"inputs": inputs, "slopes": slopes, "deltas": [d.detach() for d in deltas]}


def hessian_couplings(probe: CapacitanceProbe, features: torch.Tensor, labels: torch.Tensor) -> list[torch.Tensor]:
    """H^l[j, i, k] = ∂²L/∂W^l_ij ∂W^{l+1}_ki of the mean cross-entropy, exactly, by autograd (float64).

    Memory is O(n_{l+1} n_l² n_{l-1}) per layer pair: meant for small probes and for checking the
    ``gradient`` strategy, not for wide probes.
    """
    weights = [layer.weight.detach().double() for layer in probe.linears]
    biases = [layer.bias.detach().double() for layer in probe.linears]
    x = features.detach().double()

    def loss(*ws: torch.Tensor) -> torch.Tensor:
        h = x
        for l, (w, b) in enumerate(zip(ws, biases)):
            h = h @ w.T + b
            if l < len(ws) - 1:
                h = F.relu(h)
        return F.cross_entropy(h, labels)

    blocks = []
    for l in range(len(weights) - 1):
        block = torch.func.jacrev(torch.func.grad(loss, argnums=l + 1), argnums=l)(*weights)  # [k, i', i, j]
        blocks.append(torch.diagonal(block, dim1=1, dim2=2).permute(1, 2, 0).contiguous())  # [j, i, k]
    return blocks


@dataclass(frozen=True)
class ProbeSchedule:
    """When to snapshot: at initialisation, after every epoch, and optionally every ``every_steps`` steps."""

    at_init: bool = True
    every_epoch: bool = True
    every_steps: int | None = None

    def __post_init__(self) -> None:
        if self.every_steps is not None and self.every_steps < 1:
            raise ValueError(f"every_steps must be a positive number of steps or None, got {self.every_steps}")

    def due_after_step(self, step: int) -> bool:
        return self.every_steps is not None and step % self.every_steps == 0


@dataclass
class ProbeSnapshots:
    """Snapshots of one training run, stacked: ``weights[l]`` is (snapshots, n_l, n_{l-1})."""

    epochs: list[float]
    steps: list[int]
    weights: list[torch.Tensor]
    stats: dict[str, dict[str, list[torch.Tensor]]] = field(default_factory=dict)

    def beta(self, strategy: str) -> kernel.BetaEff:
        return kernel.beta_eff_with_reasons(self.weights, strategy, self.stats.get(strategy))


class ProbeRecorder:
    """Collects probe snapshots on the training device; stacks them once at the end."""

    def __init__(
        self,
        probe: CapacitanceProbe,
        strategies: tuple[str, ...] = ("weight",),
        schedule: ProbeSchedule = ProbeSchedule(),
    ):
        unknown = [s for s in strategies if s not in kernel.STRATEGIES]
        if unknown:
            raise ValueError(f"unknown capacitance strategies {unknown}; choose from {', '.join(kernel.STRATEGIES)}")
        self.probe = probe
        self.strategies = tuple(strategies)
        self.schedule = schedule
        self._epochs: list[float] = []
        self._steps: list[int] = []
        self._weights: list[list[torch.Tensor]] = []
        self._stats: dict[str, list[dict[str, list[torch.Tensor]]]] = {s: [] for s in self.strategies if s != "weight"}

    @property
    def needs_batch(self) -> bool:
        """Whether snapshots need the probe batch's features (``gradient``/``hessian``)."""
        return bool(self._stats)

    def snapshot(
        self, epoch: float, step: int, features: torch.Tensor | None = None, labels: torch.Tensor | None = None
    ) -> None:
        """Snapshot now; ``features``/``labels`` are the fixed probe batch (needed by ``needs_batch``)."""
        self._epochs.append(float(epoch))
        self._steps.append(int(step))
        self._weights.append(self.probe.weight_matrices())
        if not self.needs_batch:
            return
        if features is None or labels is None:
            raise ValueError("the gradient and hessian strategies need the probe batch's features and labels")
        if "gradient" in self._stats:
            self._stats["gradient"].append(self.probe.coupling_stats(features, labels))
        if "hessian" in self._stats:
            couplings = hessian_couplings(self.probe, features, labels)
            self._stats["hessian"].append({"couplings": couplings, "inputs": [features.detach().double()]})

    def result(self) -> ProbeSnapshots:
        if not self._weights:
            return ProbeSnapshots([], [], [], {})
        stats = {
            strategy: {key: _stack_layers([snap[key] for snap in snaps]) for key in snaps[0]}
            for strategy, snaps in self._stats.items()
            if snaps
        }
        return ProbeSnapshots(list(self._epochs), list(self._steps), _stack_layers(self._weights), stats)


def _stack_layers(snapshots: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """[[layer tensors] per snapshot] -> [per-layer tensor with a leading snapshot axis]."""
    return [torch.stack(layer) for layer in zip(*snapshots)]
