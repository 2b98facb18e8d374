"""Does torch.compile pay for one cell's short training? Compile time against the seconds it saves.

Usage: NBCAP_DATA=../shared python benchmarks/bench_compile.py [--cells 2] [--steps 30] [--threads 1]

Every NB201 cell is a different graph, so a study compiles once per cell. For each cell this times
eager SGD steps and compiled ones (quick's network: C=8, N=5, 12 px, batch 128, channels-last),
the first compiled step separately (the compile), and prints the break-even number of steps: the
compile time divided by the seconds saved per step. The quick preset trains 314 steps per cell.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.nn import functional as F

from nasbench_capacitance.nb201 import model, space


def step_seconds(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> tuple[float, float]:
    """(seconds of the first step, median seconds of the following ones) of plain SGD."""
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times[0], statistics.median(times[1:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=2)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--C", type=int, default=8)
    p.add_argument("--resolution", type=int, default=12)
    p.add_argument("--batch", type=int, default=128)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    x = torch.randn(args.batch, 3, args.resolution, args.resolution).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (args.batch,))
    print(f"torch {torch.__version__}, {args.threads} thread(s), C={args.C}, {args.resolution}px, batch {args.batch}")
    for cell in space.sample_indices(args.cells, seed=0, unique=True):
        results = {}
        for compiled in (False, True):
            torch.manual_seed(0)
            net = model.build_network(cell, C=args.C, N=5, head="probe").to(memory_format=torch.channels_last)
            results[compiled] = step_seconds(torch.compile(net) if compiled else net, x, y, args.steps)
        (_, eager), (first, fast) = results[False], results[True]
        saved = eager - fast
        even = f"{first / saved:,.0f} steps" if saved > 0 else "never (compiled steps are not faster)"
        print(
            f"cell {cell}: eager {eager * 1e3:.1f} ms/step, compiled {fast * 1e3:.1f} ms/step "
            f"({eager / fast:.2f}x), first compiled step {first:.1f} s; break-even after {even}"
        )


if __name__ == "__main__":
    main()
