"""Closed-form β_eff against the explicit line graph, for a probe of realistic size.

Usage: python benchmarks/bench_kernel.py [--widths 64,256,128,10] [--snapshots 4] [--batch 256]
The explicit line graph (scipy.sparse, as in the tests) is built and evaluated once per snapshot;
the closed form handles all snapshots in one batched call. Both are timed side by side and the
values compared.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import line_graph_reference as ref  # noqa: E402

from nasbench_capacitance.capacitance import kernel  # noqa: E402


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="64,256,128,10")
    parser.add_argument("--snapshots", type=int, default=4)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    widths = [int(w) for w in args.widths.split(",")]
    rng = np.random.default_rng(0)
    S, B = args.snapshots, args.batch
    f32 = lambda a: a.astype(np.float32).astype(np.float64)  # noqa: E731  (both sides see the same values)
    weights = [
        f32(rng.standard_normal((S, widths[l + 1], widths[l])) / np.sqrt(widths[l])) for l in range(len(widths) - 1)
    ]
    inputs = [f32(np.abs(rng.standard_normal((S, B, n)))) for n in widths[:-1]]
    slopes = [(rng.random((S, B, n)) > 0.5).astype(float) for n in widths[1:-1]]
    deltas = [f32(rng.standard_normal((S, B, n))) for n in widths[1:]]
    dev = torch.device(args.device)
    t_weights = [torch.tensor(w, dtype=torch.float32, device=dev) for w in weights]
    t_stats = {
        k: [torch.tensor(x, dtype=torch.float32, device=dev) for x in v]
        for k, v in (("inputs", inputs), ("slopes", slopes), ("deltas", deltas))
    }
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    n_weights = sum(w.shape[1] * w.shape[2] for w in weights)
    n_edges = sum(widths[l] * widths[l + 1] * widths[l + 2] for l in range(len(widths) - 2))
    print(
        f"probe {args.widths}: {n_weights:,} weights, {n_edges:,} line-graph edges, {S} snapshots, "
        f"batch {B}, device {dev}, torch threads {torch.get_num_threads()}"
    )
    print(f"{'strategy':<10}{'explicit (s)':>14}{'closed form (s)':>17}{'speed-up':>10}{'max rel diff':>15}")
    for strategy in ("weight", "gradient"):
        stats = t_stats if strategy == "gradient" else None

        def closed(strategy=strategy, stats=stats):
            out = kernel.beta_eff(t_weights, strategy, stats)
            sync()
            return out

        def explicit(strategy=strategy):
            out = []
            for s in range(S):
                ws = [w[s] for w in weights]
                if strategy == "weight":
                    out.append(ref.beta_weight(ws))
                else:
                    out.append(
                        ref.beta_gradient(ws, [x[s] for x in inputs], [x[s] for x in slopes], [x[s] for x in deltas])
                    )
            return np.array(out)

        closed()  # warm-up
        t_closed = best_of(closed, 3)
        t_explicit = best_of(explicit, 1)
        diff = np.max(np.abs(closed().cpu().numpy() - explicit()) / np.abs(explicit()))
        print(f"{strategy:<10}{t_explicit:>14.3f}{t_closed:>17.4f}{t_explicit / t_closed:>9.0f}x{diff:>15.1e}")


if __name__ == "__main__":
    main()
