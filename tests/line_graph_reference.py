"""Reference β_eff that builds the line graph explicitly (scipy.sparse). Tests and benchmarks only."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def weight_offsets(shapes: list[tuple[int, int]]) -> list[int]:
    """Node id of weight (l, i, j) is offsets[l] + i * n_{l-1} + j."""
    offsets, total = [], 0
    for n_out, n_in in shapes:
        offsets.append(total)
        total += n_out * n_in
    return offsets + [total]


def line_graph(shapes: list[tuple[int, int]], value) -> sp.csr_matrix:
    """P with one entry per line-graph edge (l,i,j) -> (l+1,k,i); ``value(l, I, J, K)`` gives the weights."""
    offsets = weight_offsets(shapes)
    rows, cols, vals = [], [], []
    for l in range(len(shapes) - 1):
        n_i, n_j = shapes[l]
        n_k = shapes[l + 1][0]
        J, I, K = (g.ravel() for g in np.meshgrid(np.arange(n_j), np.arange(n_i), np.arange(n_k), indexing="ij"))
        rows.append(offsets[l] + I * n_j + J)
        cols.append(offsets[l + 1] + K * n_i + I)
        vals.append(value(l, I, J, K))
    n = offsets[-1]
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))


def beta_from_line_graph(P: sp.csr_matrix) -> float:
    ones = np.ones(P.shape[0])
    return float(ones @ (P @ (P @ ones)) / (ones @ (P @ ones)))


def beta_weight(weights: list[np.ndarray]) -> float:
    shapes = [w.shape for w in weights]
    return beta_from_line_graph(
        line_graph(shapes, lambda l, I, J, K: np.abs(weights[l][I, J]) * np.abs(weights[l + 1][K, I]))
    )


def beta_gradient(weights: list[np.ndarray], inputs, slopes, deltas) -> float:
    shapes = [w.shape for w in weights]

    def value(l, I, J, K):
        return np.abs(np.mean(inputs[l][:, J] * slopes[l][:, I] * deltas[l + 1][:, K], axis=0))

    return beta_from_line_graph(line_graph(shapes, value))


def beta_hessian(weights: list[np.ndarray], hessian: np.ndarray) -> float:
    """``hessian``: the full Hessian over all weights flattened layer by layer (row-major)."""
    shapes = [w.shape for w in weights]
    offsets = weight_offsets(shapes)

    def value(l, I, J, K):
        n_i, n_j = shapes[l]
        return np.abs(hessian[offsets[l] + I * n_j + J, offsets[l + 1] + K * n_i + I])

    return beta_from_line_graph(line_graph(shapes, value))
