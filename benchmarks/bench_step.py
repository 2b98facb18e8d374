"""Seconds per SGD step and images per second of one cell across channels, resolution and batch size.

Usage: NBCAP_DATA=../shared python benchmarks/bench_step.py [--cells 2] [--steps 8] [--threads 1]

Which reduced network a CPU second buys most training for: a small network on a CPU is bound by
per-operation overhead, so a larger batch or more channels may cost little more per step. Every
point trains the same cells channels-last in eager mode (as the trainer does); printed: median ms
per step over the cells and images per second.
"""

from __future__ import annotations

import argparse
import itertools
import statistics

import torch
from bench_compile import step_seconds

from nasbench_capacitance.nb201 import model, space


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=2)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--channels", default="4,8,16")
    p.add_argument("--resolutions", default="12,16,24,32")
    p.add_argument("--batches", default="64,128,256,512")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cells = space.sample_indices(args.cells, seed=0, unique=True)
    print(f"torch {torch.__version__}, {args.threads} thread(s), N=5, cells {cells}")
    print(f"{'C':>3} {'px':>3} {'batch':>5} {'ms/step':>8} {'images/s':>9}")
    grid = itertools.product(*(map(int, a.split(",")) for a in (args.channels, args.resolutions, args.batches)))
    for C, resolution, batch in grid:
        x = torch.randn(batch, 3, resolution, resolution).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (batch,))
        times = []
        for cell in cells:
            torch.manual_seed(0)
            net = model.build_network(cell, C=C, N=5, head="probe").to(memory_format=torch.channels_last)
            times.append(step_seconds(net, x, y, args.steps)[1])
        seconds = statistics.median(times)
        print(f"{C:>3} {resolution:>3} {batch:>5} {seconds * 1e3:>8.1f} {batch / seconds:>9.0f}", flush=True)


if __name__ == "__main__":
    main()
