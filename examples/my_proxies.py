"""Two metrics of your own, as a plug-in: `nbcap compare diversity --plugin examples/my_proxies.py --out DIR`."""

import torch

from nasbench_capacitance.metrics import metric


@metric("diversity", kind="init", passes=("activations",), description="mean Hamming distance of the ReLU codes")
def diversity(session) -> float:
    codes = torch.cat(session.activations.codes, dim=1).float()  # (batch, ReLU units): 1 where a unit is active
    return float(torch.cdist(codes, codes, p=1).mean()) / codes.shape[1]


@metric("conv_edges", kind="arch", description="how many of the cell's six edges are convolutions")
def conv_edges(inputs) -> dict[str, float]:
    return {"0": float(sum(op.startswith("nor_conv") for op in inputs.arch.ops))}
