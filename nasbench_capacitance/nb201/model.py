"""NB201's TinyNetwork with a swappable head.

The macro skeleton and the operations follow xautodl (``models/cell_infers/tiny_network.py`` and
``models/cell_operations.py``): stem conv3x3+BN; 3 stages of N cells with C, 2C, 4C channels joined
by residual reduction blocks; BN+ReLU; global average pooling; head. With C=16, N=5 and 10 classes
the parameter count equals NB201's for every cell. The network returns logits only (xautodl returns
``(features, logits)``); :meth:`TinyNetwork.features` gives the pooled features.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from .space import NUM_NODES, Arch


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )


class AvgPool3x3(nn.Module):
    """NB201's 3x3 average pooling (stride 1, padding 1, padded zeros not counted) as separable box sums.

    The same values as ``nn.AvgPool2d(3, 1, 1, count_include_pad=False)`` up to float rounding, and
    several times faster forward and backward on CPU, where PyTorch's pooling kernel is slower than
    a convolution of the same shape.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = nn.functional.pad(x, (1, 1, 1, 1))
        rows = padded[:, :, :-2] + padded[:, :, 1:-1] + padded[:, :, 2:]
        box = rows[:, :, :, :-2] + rows[:, :, :, 1:-1] + rows[:, :, :, 2:]
        return box / _neighbour_counts(x.shape[2], x.shape[3], x.device, x.dtype)


@functools.lru_cache(maxsize=64)
def _neighbour_counts(height: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """How many cells of each position's 3x3 neighbourhood lie inside a height x width map."""

    def along(n: int) -> torch.Tensor:
        ones = torch.ones(n + 2, device=device, dtype=dtype)
        ones[0] = ones[-1] = 0  # the padding
        return ones[:-2] + ones[1:-1] + ones[2:]

    return along(height)[:, None] * along(width)[None, :]


def make_op(name: str, channels: int) -> nn.Module | None:
    """A cell operation (stride 1, equal channels, as inside every NB201 cell); ``none`` is ``None``."""
    if name == "none":
        return None
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, 1)
    if name == "avg_pool_3x3":
        return AvgPool3x3()
    raise ValueError(f"unknown operation {name!r}")


class Cell(nn.Module):
    """One NB201 cell. ``none`` edges are skipped rather than multiplied by zero: same values, less work."""

    def __init__(self, arch: Arch, channels: int):
        super().__init__()
        self.ops = nn.ModuleList()
        self.wiring: list[list[tuple[int, int]]] = []  # per node: (module slot, source node)
        for node in range(1, NUM_NODES):
            inputs = []
            for op_name, source in arch.node_inputs(node):
                op = make_op(op_name, channels)
                if op is not None:
                    inputs.append((len(self.ops), source))
                    self.ops.append(op)
            self.wiring.append(inputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for inputs in self.wiring:
            if inputs:
                out = self.ops[inputs[0][0]](nodes[inputs[0][1]])
                for slot, source in inputs[1:]:
                    out = out + self.ops[slot](nodes[source])
            else:
                out = torch.zeros_like(x)
            nodes.append(out)
        return nodes[-1]


class ResidualReduction(nn.Module):
    """NB201's ResNetBasicblock with stride 2 between stages."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class TinyNetwork(nn.Module):
    def __init__(self, arch: Arch, C: int, N: int, head: nn.Module):
        super().__init__()
        self.arch = arch
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        blocks: list[nn.Module] = []
        channels = C
        for stage in range(3):
            if stage > 0:
                blocks.append(ResidualReduction(channels, channels * 2))
                channels *= 2
            blocks.extend(Cell(arch, channels) for _ in range(N))
        self.cells = nn.Sequential(*blocks)
        self.lastact = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.feature_dim = channels
        self.head = head

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """Features before global pooling (after the final BN+ReLU), shape (batch, 4C, H/4, W/4)."""
        return self.lastact(self.cells(self.stem(x)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled features (what the head sees), shape (batch, 4C)."""
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.feature_map(x), 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build_network(
    arch: Arch | str | int,
    C: int = 16,
    N: int = 5,
    num_classes: int = 10,
    head: str | nn.Module = "linear",
    probe_widths: tuple[int, ...] | None = None,
) -> TinyNetwork:
    """NB201 network for ``arch`` (string, index or :class:`Arch`).

    ``head`` is ``"linear"`` (NB201's classifier), ``"probe"`` (the capacitance probe, hidden widths
    ``probe_widths`` or the probe's default) or any module mapping (batch, 4C) features to logits.
    """
    arch = Arch.parse(arch)
    if C < 1 or N < 1 or num_classes < 2:
        raise ValueError(f"need C >= 1, N >= 1 and num_classes >= 2, got C={C}, N={N}, num_classes={num_classes}")
    feature_dim = 4 * C
    if isinstance(head, nn.Module):
        head_module = head
    elif head == "linear":
        head_module = nn.Linear(feature_dim, num_classes)
    elif head == "probe":
        from ..capacitance.probe import CapacitanceProbe

        head_module = CapacitanceProbe(feature_dim, num_classes, hidden=probe_widths)
    else:
        raise ValueError(f"unknown head {head!r}: use 'linear', 'probe' or an nn.Module")
    return TinyNetwork(arch, C, N, head_module)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def count_parameters_matching_table(rows: list[dict]) -> list[tuple[int, int, float]]:
    """(index, our count, table count) for every row whose ``params_mb_c10`` differs from our C=16, N=5 network.

    Built on the meta device: no memory and no initialisation, so all 15,625 cells are cheap.
    """
    mismatches = []
    with torch.device("meta"):
        for row in rows:
            ours = count_parameters(build_network(row["arch_str"], C=16, N=5, num_classes=10))
            theirs = float(row["params_mb_c10"]) * 1e6
            if abs(ours - theirs) > 0.5:
                mismatches.append((int(row["index"]), ours, theirs))
    return mismatches
