"""The shared capacitance kernel: β_eff of a layered MLP's line graph, in closed form.

Tensors in, numbers out: nothing here knows of NB201, datasets or training.

Layer matrices W¹…W^L have shape (n_l, n_{l-1}); weight e = (l, i, j) joins neuron j of layer l-1
to neuron i of layer l. The line graph has an edge e -> e' whenever e' = (l+1, k, i). With P the
coupling matrix on those edges, s_in = P1 and s_out = 1ᵀP,

    β_eff = 1ᵀPP1 / 1ᵀP1 = Σ_v s_in(v) s_out(v) / Σ_v s_in(v),

which is the same for P and Pᵀ. Strategies (docs/capacitance.md):

- ``weight``:   P(e, e') = |w_e| |w_e'|; needs only the weights.
- ``gradient``: P(e, e') = |mean_b a^{l-1}_j σ'(z^l_i) δ^{l+1}_k|; needs per-sample statistics on a
  probe batch: ``stats = {"inputs": [a⁰…a^{L-1}], "slopes": [σ'(z¹)…σ'(z^{L-1})], "deltas": [δ¹…δ^L]}``,
  each (batch, width) or (snapshots, batch, width).
- ``hessian``:  P(e, e') = |∂²L/∂w_e∂w_e'|; needs ``stats = {"couplings": [H¹…H^{L-1}]}`` with
  H^l[j, i, k] = ∂²L/∂W^l_ij ∂W^{l+1}_ki (as computed by :func:`nasbench_capacitance.probe.hessian_couplings`),
  and optionally ``"inputs": [a⁰]``, the probe batch.

The coupling strategies are undefined (NaN) at a snapshot whose probe batch gives the probe the same
input for every sample: the couplings then come from the probe's biases alone, and β_eff is typically
0, an extreme value that describes no learning at all.

The line graph is never built. For ``weight``, s_in(l,i,j) = |W^l_ij| Σ_k |W^{l+1}_ki| and
s_out(l,i,j) = |W^l_ij| Σ_m |W^{l-1}_jm|, so everything reduces to row and column sums. For the
coupling strategies, the per-layer tensor T^l[j, i, k] = P((l,i,j), (l+1,k,i)) is summed over k (s_in)
and over the previous layer's j (s_out). All arithmetic is float64, batched over snapshots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

STRATEGIES: tuple[str, ...] = ("weight", "gradient", "hessian")

ZERO_WEIGHT_REASON = "all line-graph couplings are zero: a probe layer has all-zero weights"
ZERO_COUPLING_REASON = (
    "all line-graph couplings are zero: the probe's inputs, slopes or loss gradients vanish on the probe batch"
)
CONSTANT_INPUTS_REASON = (
    "the probe's inputs are the same for every sample of the probe batch: no coupling depends on the "
    "data (for example a cell whose output is cut off from its input)"
)
NONFINITE_REASON = "non-finite values in the probe weights or statistics"
NO_EDGES_REASON = "a single-layer probe has no line-graph edges"


@dataclass(frozen=True)
class BetaEff:
    """β_eff per snapshot, with the reason for every NaN (``None`` where the value is defined)."""

    values: torch.Tensor  # (snapshots,) float64
    reasons: tuple[str | None, ...]


def _as_batched(tensors: Sequence, name: str, batched: bool | None) -> tuple[list[torch.Tensor], bool]:
    if tensors is None or len(tensors) == 0:
        raise ValueError(f"{name}: expected a non-empty list of per-layer tensors")
    out = [torch.as_tensor(t).to(torch.float64) for t in tensors]
    dims = {t.dim() for t in out}
    if len(dims) != 1:
        raise ValueError(f"{name}: all layers must have the same number of dimensions, got {sorted(dims)}")
    if batched is None:
        batched = dims.pop() == 3
    if not batched:
        out = [t.unsqueeze(0) for t in out]
    return out, batched


def _check_weight_chain(weights: list[torch.Tensor]) -> None:
    for l, w in enumerate(weights):
        if w.dim() != 3:
            raise ValueError(
                f"weights[{l}] must be (n_l, n_l-1) or (snapshots, n_l, n_l-1), got shape {tuple(w.shape)}"
            )
    for l in range(1, len(weights)):
        if weights[l].shape[-1] != weights[l - 1].shape[-2]:
            raise ValueError(
                f"weights[{l}] has {weights[l].shape[-1]} inputs but weights[{l - 1}] has "
                f"{weights[l - 1].shape[-2]} outputs: pass the layers in order, each as (n_out, n_in)"
            )
        if weights[l].shape[0] != weights[0].shape[0]:
            raise ValueError("all layers must have the same number of snapshots")


def _weight_sums(weights: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    a = [w.abs() for w in weights]
    row = [x.sum(-1) for x in a]  # row[l][i] = Σ_j |W^l_ij|: into neuron i of layer l
    col = [x.sum(-2) for x in a]  # col[l][j] = Σ_i |W^l_ij|: out of neuron j of layer l-1
    numerator = sum(torch.einsum("si,sij,sj->s", col[l + 1], a[l] * a[l], row[l - 1]) for l in range(1, len(a) - 1))
    denominator = sum((row[l] * col[l + 1]).sum(-1) for l in range(len(a) - 1))
    return torch.as_tensor(numerator, dtype=torch.float64), torch.as_tensor(denominator)


def gradient_couplings(stats: Mapping[str, Sequence] | None, num_layers: int, batched: bool) -> list[torch.Tensor]:
    """T^l[j, i, k] = |mean_b a^{l-1}_bj σ'(z^l_bi) δ^{l+1}_bk| for l = 1…L-1, shape (S, n_{l-1}, n_l, n_{l+1})."""
    missing = [k for k in ("inputs", "slopes", "deltas") if k not in (stats or {})]
    if missing:
        raise ValueError(
            f"strategy 'gradient' needs stats with keys inputs/slopes/deltas (missing {missing}); "
            "record them with CapacitanceProbe.coupling_stats"
        )
    assert stats is not None
    per_layer = {k: _as_batched(stats[k], f"stats[{k!r}]", batched)[0] for k in ("inputs", "slopes", "deltas")}
    inputs, slopes, deltas = per_layer["inputs"], per_layer["slopes"], per_layer["deltas"]
    if len(inputs) < num_layers - 1 or len(slopes) < num_layers - 1 or len(deltas) < num_layers:
        raise ValueError(
            f"stats for an {num_layers}-layer probe need {num_layers} inputs, {num_layers - 1} slopes and "
            f"{num_layers} deltas; got {len(inputs)}, {len(slopes)}, {len(deltas)}"
        )
    couplings = []
    for l in range(num_layers - 1):
        a, d, g = inputs[l], slopes[l], deltas[l + 1]
        s, b = a.shape[0], a.shape[1]
        left = (a.unsqueeze(-1) * d.unsqueeze(-2)).reshape(s, b, -1)  # (S, B, j*i)
        t = torch.bmm(left.transpose(1, 2), g) / b  # (S, j*i, k)
        couplings.append(t.reshape(s, a.shape[-1], d.shape[-1], g.shape[-1]).abs())
    return couplings


def _coupling_sums(couplings: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    s_in = [t.sum(-1) for t in couplings]  # (S, j, i): s_in of weight (l, i, j)
    s_out = [t.sum(1) for t in couplings]  # (S, i, k): s_out of weight (l+1, k, i), indexed [i, k]
    numerator = sum((s_in[l] * s_out[l - 1]).sum((-2, -1)) for l in range(1, len(couplings)))
    denominator = sum(t.sum((-3, -2, -1)) for t in couplings)
    return torch.as_tensor(numerator, dtype=torch.float64), torch.as_tensor(denominator)


def _check_couplings(couplings: list[torch.Tensor], weights: list[torch.Tensor]) -> None:
    if len(couplings) != len(weights) - 1:
        raise ValueError(
            f"expected {len(weights) - 1} coupling tensors for {len(weights)} layers, got {len(couplings)}"
        )
    for l, t in enumerate(couplings):
        want = (weights[l].shape[-1], weights[l].shape[-2], weights[l + 1].shape[-2])
        if t.dim() != 4 or tuple(t.shape[1:]) != want:
            raise ValueError(
                f"couplings[{l}] must have shape (snapshots, {want[0]}, {want[1]}, {want[2]}), got {tuple(t.shape)}"
            )


def _inputs_constant(stats: Mapping[str, Sequence] | None, snapshots: int, batched: bool) -> torch.Tensor:
    """Per snapshot: whether the probe batch ``stats['inputs'][0]`` is the same for every sample."""
    if not stats or not stats.get("inputs"):
        return torch.zeros(snapshots, dtype=torch.bool)
    a0 = _as_batched(stats["inputs"][:1], "stats['inputs']", batched)[0][0]
    if a0.shape[1] < 2:
        return torch.zeros(snapshots, dtype=torch.bool)
    return (a0 == a0[:, :1]).flatten(1).all(1).cpu()


def beta_eff_with_reasons(
    weights: Sequence, strategy: str = "weight", stats: Mapping[str, Sequence] | None = None
) -> BetaEff:
    """β_eff for every snapshot (unbatched input counts as one), with a reason for each NaN."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown capacitance strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    ws, batched = _as_batched(weights, "weights", None)
    _check_weight_chain(ws)
    snapshots = ws[0].shape[0]
    if len(ws) < 2:
        return BetaEff(torch.full((snapshots,), float("nan"), dtype=torch.float64), (NO_EDGES_REASON,) * snapshots)
    if strategy == "weight":
        inputs_finite = torch.stack([torch.isfinite(w).flatten(1).all(1) for w in ws]).all(0)
        numerator, denominator = _weight_sums(ws)
        zero_reason = ZERO_WEIGHT_REASON
        inputs_constant = torch.zeros(snapshots, dtype=torch.bool)  # the weights alone: no probe batch
    else:
        if strategy == "gradient":
            couplings = gradient_couplings(stats, len(ws), batched)
        else:
            if not stats or "couplings" not in stats:
                raise ValueError(
                    "strategy 'hessian' needs stats={'couplings': [...]}; compute them with probe.hessian_couplings"
                )
            couplings = [t.abs() for t in _as_batched(stats["couplings"], "stats['couplings']", batched)[0]]
        _check_couplings(couplings, ws)
        inputs_finite = torch.stack([torch.isfinite(t).flatten(1).all(1) for t in couplings]).all(0)
        numerator, denominator = _coupling_sums(couplings)
        zero_reason = ZERO_COUPLING_REASON
        inputs_constant = _inputs_constant(stats, snapshots, batched)
    values = numerator / denominator
    reasons: list[str | None] = []
    for s in range(snapshots):
        if not bool(inputs_finite[s]):
            reasons.append(NONFINITE_REASON)
        elif bool(inputs_constant[s]):
            reasons.append(CONSTANT_INPUTS_REASON)
        elif float(denominator[s]) == 0.0:
            reasons.append(zero_reason)
        else:
            reasons.append(None)
    bad = torch.tensor([r is not None for r in reasons], device=values.device)
    values = torch.where(bad, torch.full_like(values, float("nan")), values)
    return BetaEff(values, tuple(reasons))


def beta_eff(weights: Sequence, strategy: str = "weight", stats: Mapping[str, Sequence] | None = None) -> torch.Tensor:
    """β_eff of an MLP's line graph: one float64 value per snapshot (a 0-d tensor for unbatched input).

    ``weights``: per-layer matrices (n_l, n_{l-1}), or with a leading snapshot dimension. Degenerate
    snapshots give NaN; :func:`compute` also returns why.
    """
    result = beta_eff_with_reasons(weights, strategy, stats)
    batched = torch.as_tensor(weights[0]).dim() == 3
    return result.values if batched else result.values[0]
