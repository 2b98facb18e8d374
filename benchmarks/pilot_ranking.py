"""Ranking pilot: how well each metric ranks a small NB201 sample at a reduced training configuration.

Usage: python benchmarks/pilot_ranking.py [--archs 16 --C 8 --N 5 --resolution 16 --train-images 10000
       --valid-images 2000 --epochs 2 --seed 0 --target c10valid_xvalid_200_v10]
Trains each sampled architecture (one per isomorphism class) with the capacitance probe and prints,
for every metric and epoch budget, Kendall τ-b against the ground truth with its 95% bootstrap
interval. It is the measurement for choosing reduced configurations; `nbcap run` will do this at scale.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from nasbench_capacitance import benchmark, data, evaluation, metrics, model, paths, space, training
from reduced_config import add_reduced_config_args

METRICS = ("beta_weight", "beta_gradient", "val_acc", "val_loss", "tse", "tse_e", "tse_ema", "sovl")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_reduced_config_args(p, archs=16)
    p.add_argument("--target", default="c10valid_xvalid_200_v10")
    p.add_argument("--table", default=str(paths.data_root() / "nb201" / "nb201_merged.csv"))
    args = p.parse_args()

    gt = benchmark.GroundTruth.from_table(args.table, target=args.target)
    td = data.prepare("cifar10-valid", resolution=args.resolution, train_subset=args.train_images,
                      valid_subset=args.valid_images)
    config = training.TrainConfig(epochs=args.epochs, seed=args.seed)
    indices = space.sample_indices(args.archs, seed=args.seed, unique=True)
    scores: dict[str, dict[str, list[float]]] = {m: {} for m in METRICS}
    start = time.perf_counter()
    for n, index in enumerate(indices, 1):
        arch = space.arch_from_index(index)
        torch.manual_seed(args.seed)
        result = training.train(model.build_network(arch, C=args.C, N=args.N, head="probe"), td, config)
        for name, by_epoch in metrics.compute(METRICS, result, arch).items():
            for epoch, value in by_epoch.items():
                scores[name].setdefault(epoch, []).append(value)
        print(f"[{n}/{len(indices)}] arch {index}: {result.status}, val acc {result.valid_acc[-1]:.1f}%, "
              f"truth {gt.accuracy(index):.1f}% ({time.perf_counter() - start:.0f} s)", flush=True)
    truth = gt.accuracies(indices)
    params = gt.column("params_mb_c10", indices)
    print(f"\n{len(indices)} architectures, target {gt.target.label}")
    print(f"{'metric':<16}{'epoch':>6}{'tau':>8}{'95% CI':>18}{'tau|params':>12}")
    print(f"{'params':<16}{'-':>6}{evaluation.kendall_tau(params, truth):>8.3f}")
    for name in METRICS:
        for epoch, values in scores[name].items():
            c = evaluation.correlate(np.array(values), truth, params, resamples=500)
            print(f"{name:<16}{epoch:>6}{c.kendall_tau:>8.3f}  [{c.kendall_low:6.3f}, {c.kendall_high:6.3f}]"
                  f"{c.kendall_tau_given_params:>12.3f}")


if __name__ == "__main__":
    main()
