"""Seconds per cell-epoch of the trainer in fp32 and bf16 autocast, with and without channels-last.

Usage: NBCAP_DATA=../shared python benchmarks/bench_precision.py [--C 8 --resolution 12 --batch 128 ...]
       (the full network: --C 16 --resolution 32 --batch 256 --train-images 2560)

Every variant first trains one cell untimed (one-time kernel set-up), then the same cells from the
same initialisation for the same epochs, in rotating order (so drift in the machine's load hits
every variant alike); printed: median seconds per
cell-epoch, the ratio to fp32, and the mean |Δ| of the final validation accuracy against fp32.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from reduced_config import add_reduced_config_args

from nasbench_capacitance import training
from nasbench_capacitance.data import cifar10
from nasbench_capacitance.nb201 import model, space

VARIANTS = (("fp32", False), ("bf16", False), ("fp32", True), ("bf16", True))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_reduced_config_args(p, archs=4)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    td = cifar10.prepare(
        "cifar10-valid", resolution=args.resolution, train_subset=args.train_images, valid_subset=args.valid_images
    )
    cells = space.sample_indices(args.archs, seed=args.seed, unique=True)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads: C={args.C} N={args.N} "
        f"{args.resolution}px, batch {args.batch}, {args.train_images} images, {args.epochs} epochs, cells {cells}"
    )

    def train(cell: int, variant: tuple[str, bool]) -> tuple[float, float]:
        """(seconds per epoch, final validation accuracy) of one cell under one variant."""
        torch.manual_seed(args.seed)
        net = model.build_network(cell, C=args.C, N=args.N, head="probe")
        config = training.TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch,
            strategies=("weight", "gradient"),
            channels_last=variant[1],
            precision=variant[0],
        )
        start = time.perf_counter()
        result = training.train(net, td, config, seed=args.seed)
        return (time.perf_counter() - start) / args.epochs, result.valid_acc[-1]

    for variant in VARIANTS:  # untimed: the first call of each kernel pays one-time set-up costs
        train(cells[0], variant)
    seconds: dict[tuple, list[float]] = {v: [] for v in VARIANTS}
    accuracy: dict[tuple, list[float]] = {v: [] for v in VARIANTS}
    for n, cell in enumerate(cells):
        for variant in VARIANTS[n % len(VARIANTS) :] + VARIANTS[: n % len(VARIANTS)]:
            spent, acc = train(cell, variant)
            seconds[variant].append(spent)
            accuracy[variant].append(acc)
    base = statistics.median(seconds[VARIANTS[0]])
    for variant in VARIANTS:
        median = statistics.median(seconds[variant])
        drift = statistics.mean(abs(a - b) for a, b in zip(accuracy[variant], accuracy[VARIANTS[0]]))
        name = f"{variant[0]}{' + channels-last' if variant[1] else ''}"
        print(f"  {name:<24} {median:7.2f} s/cell-epoch  {base / median:5.2f}x  |Δ val acc| {drift:.2f} points")


if __name__ == "__main__":
    main()
