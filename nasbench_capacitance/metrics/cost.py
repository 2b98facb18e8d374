"""Parameter count and FLOPs of the full NB201 network (C=16, N=5, 10 classes, 32x32 input).

Counted once per operation on the meta device (no memory, no initialisation), then added up per cell.
FLOPs are multiply-accumulates of every convolution and linear layer plus the linear bias, as xautodl's
``get_model_infos`` counts them, so both equal the NB201 table's ``params_mb_c10`` / ``flops_m_c10`` (in millions).
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from ..nb201.model import build_network, count_parameters
from ..nb201.space import EDGES, OPS, Arch
from . import Inputs, Values, metric


def _count(arch: Arch) -> tuple[int, int]:
    """(parameters, FLOPs) counted on a meta-device network (no memory, no initialisation)."""
    total = [0]

    def count(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            total[0] += output[0].numel() * module.in_channels // module.groups * k
        elif isinstance(module, nn.Linear):
            total[0] += module.in_features * module.out_features + (
                module.out_features if module.bias is not None else 0
            )

    with torch.device("meta"):
        net = build_network(arch, C=16, N=5, num_classes=10)
        hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        with torch.no_grad():
            net(torch.zeros(1, 3, 32, 32))
    for h in hooks:
        h.remove()
    return count_parameters(net), total[0]


@functools.lru_cache(maxsize=1)
def _per_operation() -> tuple[tuple[int, int], dict[str, tuple[int, int]]]:
    """The skeleton's cost (every edge ``none``) and what one edge with each operation adds.

    Every operation on every edge is its own module at its stage's width and resolution, whether or
    not its output is used (NB201 counts dead edges too), so a cell's cost is the skeleton's plus the
    sum over its edges: six counts once, then arithmetic for every cell.
    """
    skeleton = _count(Arch(("none",) * len(EDGES)))
    added = {}
    for op in OPS[1:]:
        params, flops = _count(Arch((op,) + ("none",) * (len(EDGES) - 1)))
        added[op] = (params - skeleton[0], flops - skeleton[1])
    added["none"] = (0, 0)
    return skeleton, added


def nb201_costs(arch: Arch) -> tuple[float, float]:
    """(parameters, FLOPs), both in millions, of NB201's network for ``arch`` (C=16, N=5, 32x32, 10 classes)."""
    (params, flops), added = _per_operation()
    for op in arch.ops:
        params += added[op][0]
        flops += added[op][1]
    return params / 1e6, flops / 1e6


@metric(
    "params",
    kind="arch",
    description="parameters of the NB201 network (M), a known strong baseline",
    reference="xautodl get_model_infos; NB201 table params_mb_c10",
)
def _params(inputs: Inputs) -> Values:
    return {"0": nb201_costs(inputs.arch)[0]}


@metric(
    "flops",
    kind="arch",
    description="FLOPs of the NB201 network at 32x32 (M)",
    reference="xautodl get_model_infos; NB201 table flops_m_c10",
)
def _flops(inputs: Inputs) -> Values:
    return {"0": nb201_costs(inputs.arch)[1]}
