"""Trainer throughput: architecture-epochs per hour, and where the wall time goes.

Usage: python benchmarks/bench_train.py [--C 8 --N 5 --resolution 16 --train-images 10000 ...]
Defaults are the reference reduced configuration for a 2-core CPU; for the full NB201 network on a
GPU use --C 16 --resolution 32 --train-images 25000 --valid-images 25000 --device cuda.
Every architecture is built, trained with the capacitance probe (weight + gradient snapshots every
epoch) and scored by the kernel; "outside" is data + augmentation + probe recording + kernel, the
work that is not forward/backward/step. Evaluation on the validation images is shown apart.
"""

from __future__ import annotations

import argparse
import time

import torch
from reduced_config import add_reduced_config_args

from nasbench_capacitance import metrics, training
from nasbench_capacitance.data import cifar10
from nasbench_capacitance.nb201 import model, space


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_reduced_config_args(p, archs=3)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--channels-last", action="store_true")
    args = p.parse_args()

    cifar = cifar10.load_cifar10()
    td = cifar10.prepare(
        "cifar10-valid",
        data=cifar,
        device=args.device,
        resolution=args.resolution,
        train_subset=args.train_images,
        valid_subset=args.valid_images,
    )
    config = training.TrainConfig(
        epochs=args.epochs,
        strategies=("weight", "gradient"),
        channels_last=args.channels_last,
    )
    indices = space.sample_indices(args.archs, seed=args.seed, unique=True)
    print(
        f"device {args.device}, torch threads {torch.get_num_threads()}: C={args.C} N={args.N} "
        f"{args.resolution}x{args.resolution}, {args.train_images} train / {args.valid_images} valid images, "
        f"{args.epochs} epochs, {args.archs} architectures"
    )
    totals = {k: 0.0 for k in ("build", "data", "compute", "eval", "probe", "kernel", "wall")}
    for index in indices:
        start = time.perf_counter()
        torch.manual_seed(args.seed)
        net = model.build_network(index, C=args.C, N=args.N, head="probe").to(args.device)
        built = time.perf_counter()
        result = training.train(net, td, config, seed=args.seed, sync_timing=True)
        trained = time.perf_counter()
        metrics.score(["beta_weight", "beta_gradient"], result, space.arch_from_index(index))
        done = time.perf_counter()
        for phase in ("data", "compute", "eval", "probe"):
            totals[phase] += result.timings[phase]
        totals["build"] += built - start
        totals["kernel"] += done - trained
        totals["wall"] += done - start
        print(f"  arch {index:>5}: {done - start:6.1f} s, val acc {result.valid_acc[-1]:.1f}%")
    wall = totals["wall"]
    outside = totals["data"] + totals["probe"] + totals["kernel"]
    print(
        f"architecture-epochs per hour: {args.archs * args.epochs / wall * 3600:.0f} "
        f"({wall / args.archs:.1f} s per architecture)"
    )
    print(
        f"outside forward/backward/step (data+augmentation {totals['data'] / wall:.1%}, probe recording "
        f"{totals['probe'] / wall:.1%}, kernel {totals['kernel'] / wall:.1%}): {outside / wall:.1%}"
    )
    print(
        f"forward/backward/step {totals['compute'] / wall:.1%}, evaluation {totals['eval'] / wall:.1%}, "
        f"model build {totals['build'] / wall:.1%}"
    )


if __name__ == "__main__":
    main()
