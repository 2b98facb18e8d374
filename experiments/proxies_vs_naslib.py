"""Our zero-cost proxies against NASLib's scores of the same NB201 cells (CIFAR-10).

Usage: NBCAP_DATA=../shared python experiments/proxies_vs_naslib.py [--cells 60 --seed 0 --batch 32]

Reads NASLib's precomputed scores (``nb201/sources/naslib_zc_nasbench201_724archs_prerelease.json``,
12 proxies) and NASLib's Zen-scores (the ``naslib_zen_c10`` column of ``nb201_merged.csv``), draws
``--cells`` of those cells (seeded), computes every proxy of ours on the reference configuration
(NB201 network C=16, N=5, 32x32, one batch of 32 training images, as NASLib used: its jacov
never goes below -32, the bound for 32 samples) and prints, per proxy: the
Spearman ρ and Kendall τ between our scores and NASLib's, each one's Kendall τ against the 200-epoch
ground truth on the same cells, and our seconds per cell. ``--out FILE.csv`` keeps the raw scores.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch

from nasbench_capacitance import metrics, paths
from nasbench_capacitance.data import cifar10, ground_truth
from nasbench_capacitance.evaluation import ranking
from nasbench_capacitance.metrics import zero_cost
from nasbench_capacitance.nb201 import space
from nasbench_capacitance.outputs import write_rows

NASLIB_NAMES = {"jacob_cov": "jacov"}  # our name -> NASLib's, where they differ


def naslib_arch(op_tuple: str) -> space.Arch:
    """NASLib's op-index tuple, written as a string in its JSON files, as an NB201 architecture."""
    return space.Arch.from_naslib([int(k) for k in op_tuple.strip("()").split(",")])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=32, help="NASLib computed the reference file with 32")
    p.add_argument("--target", default="c10valid_xvalid_200_v10")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", help="write every cell's scores (ours and NASLib's) to this CSV")
    p.add_argument("--summary", help="write the printed table to this CSV (docs/results/data/baselines_vs_naslib.csv)")
    args = p.parse_args()

    root = paths.data_root()
    reference = json.loads((root / "nb201" / "sources" / "naslib_zc_nasbench201_724archs_prerelease.json").read_text())[
        "cifar10"
    ]
    table = root / "nb201" / "nb201_merged.csv"
    gt = ground_truth.GroundTruth.from_table(table, target=args.target)
    with open(table, newline="") as f:
        naslib_zen = {int(r["index"]): float(r["naslib_zen_c10"]) for r in csv.DictReader(f)}
    cells = sorted(reference.values(), key=lambda v: v["arch"])
    chosen = [cells[i] for i in np.random.default_rng(args.seed).permutation(len(cells))[: args.cells]]
    archs = [naslib_arch(c["arch"]) for c in chosen]

    td = cifar10.prepare("cifar10-valid", device=args.device, resolution=32)
    training_free = metrics.available("arch") + metrics.available("init")
    names = [n for n in training_free if n == "zen" or NASLIB_NAMES.get(n, n) in chosen[0]]  # those NASLib scored
    ours: dict[str, list[float]] = {n: [] for n in names}
    seconds: dict[str, float] = {n: 0.0 for n in names}
    for n, arch in enumerate(archs, 1):
        setup = zero_cost.make_setup(arch, td.train, C=16, N=5, batch_size=args.batch, seed=args.seed)
        for name in names:
            start = time.perf_counter()
            ours[name].append(metrics.score([name], None, arch, setup)[name]["0"])
            seconds[name] += time.perf_counter() - start
        print(f"[{n}/{len(archs)}] {arch.index}", flush=True)

    truth = gt.accuracies([a.index for a in archs])
    print(f"\n{len(archs)} NB201 cells from NASLib's CIFAR-10 zero-cost benchmark; ground truth {gt.target.label}")
    print(
        f"{'proxy':<10}{'rho(ours,NASLib)':>17}{'tau(ours,NASLib)':>17}{'tau ours':>10}{'tau NASLib':>11}{'s/cell':>8}"
    )
    rows, summary = [], []
    for name in names:
        if name == "zen":
            theirs = np.array([naslib_zen[a.index] for a in archs])
        else:
            key = NASLIB_NAMES.get(name, name)
            theirs = np.array([c[key]["score"] for c in chosen], dtype=float)
        mine = np.array(ours[name], dtype=float)
        rho, tau = ranking.spearman_rho(mine, theirs), ranking.kendall_tau(mine, theirs)
        rows.append((name, mine, theirs))
        summary.append(
            {
                "proxy": name,
                "cells": len(archs),
                "batch": args.batch,
                "rho_ours_naslib": rho,
                "tau_ours_naslib": tau,
                "tau_ours": ranking.kendall_tau(mine, truth),
                "tau_naslib": ranking.kendall_tau(theirs, truth),
                "seconds_per_cell": seconds[name] / len(archs),
            }
        )
        print(
            f"{name:<10}{rho:>17.3f}{tau:>17.3f}{summary[-1]['tau_ours']:>10.3f}"
            f"{summary[-1]['tau_naslib']:>11.3f}{summary[-1]['seconds_per_cell']:>8.3f}"
        )
    if args.summary:
        write_rows(Path(args.summary), summary, digits=4)
    if args.out:
        with open(args.out, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(
                ["index", "arch_str", "truth", *(f"{n}_{who}" for n, _, _ in rows for who in ("ours", "naslib"))]
            )
            for i, arch in enumerate(archs):
                w.writerow(
                    [
                        arch.index,
                        arch.to_string(),
                        truth[i],
                        *(v[i] for _, mine, theirs in rows for v in (mine, theirs)),
                    ]
                )


if __name__ == "__main__":
    main()
