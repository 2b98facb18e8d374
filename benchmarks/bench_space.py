"""Seconds per cell of every training-free metric: the per-copy schedule against shared passes, side by side.

Usage: NBCAP_DATA=../shared python benchmarks/bench_space.py [--preset quick --cells 40 --threads 1]

On the same sampled cells, in one process, alternating cell by cell:

- ``per copy`` is the schedule before shared passes: each proxy on its own deep copy of the initialised
  network, with its own passes, and parameters/FLOPs counted on a meta-device network per cell;
- ``shared`` is what ``nbcap space`` runs: one network, each pass once for the proxies that read it,
  parameters/FLOPs summed from per-operation counts.

Both give the same values (checked here on every cell). Prints seconds per proxy and per cell, and the
projected time for all 15,625 cells with ``--workers`` processes of ``--threads`` threads each.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch

from nasbench_capacitance import config, metrics
from nasbench_capacitance.config import StudyConfig
from nasbench_capacitance.metrics import cost, zero_cost
from nasbench_capacitance.nb201 import space
from nasbench_capacitance.study.evaluate import prepare_data, resolve_device


def _setup(arch: space.Arch, cfg: StudyConfig, images) -> zero_cost.ProxySetup:
    return zero_cost.make_setup(
        arch, images, C=cfg.model.C, N=cfg.model.N, batch_size=cfg.proxies.batch_size, seed=cfg.run.seed
    )


def per_copy(arch: space.Arch, cfg: StudyConfig, images, names: list[str]) -> tuple[dict, dict, float]:
    start = time.perf_counter()
    cost._count(arch)  # the meta-device count per cell that params and flops made before
    seconds = {"params+flops": time.perf_counter() - start}
    setup = _setup(arch, cfg, images)
    values = {}
    for name in names:
        begin = time.perf_counter()
        own = zero_cost.ProxySetup(copy.deepcopy(setup.network), setup.inputs, setup.targets, setup.seed)
        values[name] = own.score(name)
        seconds[name] = time.perf_counter() - begin
    return values, seconds, time.perf_counter() - start


def shared(arch: space.Arch, cfg: StudyConfig, images, names: list[str]) -> tuple[dict, dict, float]:
    start = time.perf_counter()
    cost.nb201_costs(arch)
    seconds = {"params+flops": time.perf_counter() - start}
    setup = _setup(arch, cfg, images)
    scores = metrics.score(names, None, arch, setup)
    seconds.update(setup.timings)
    return {n: v["0"] for n, v in scores.items()}, seconds, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="quick", choices=config.PRESETS)
    p.add_argument("--cells", type=int, default=40)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workers", type=int, default=2, help="processes assumed for the whole-space projection")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = config.load(args.preset, overrides=args.overrides)
    images = prepare_data(cfg, resolve_device(cfg.run.device)).train
    names = metrics.available("init")
    cells = [space.arch_from_index(i) for i in space.sample_indices(args.cells, seed=args.seed)]
    shared(cells[0], cfg, images, names)  # warm-up: first-call costs (per-operation counts, allocator)
    per_copy(cells[0], cfg, images, names)
    runs = {"per copy": per_copy, "shared": shared}
    seconds: dict[str, dict[str, list[float]]] = {k: {} for k in runs}
    walls: dict[str, list[float]] = {k: [] for k in runs}
    for arch in cells:
        values = {}
        for label, run in runs.items():  # alternate, so drift in the machine's speed hits both alike
            values[label], per, wall = run(arch, cfg, images, names)
            walls[label].append(wall)
            for name, s in per.items():
                seconds[label].setdefault(name, []).append(s)
        same = all(
            values["per copy"][n] == values["shared"][n]
            or abs(values["per copy"][n] - values["shared"][n]) <= 1e-9 * abs(values["per copy"][n])
            for n in names
        )
        if not same:
            raise SystemExit(f"cell {arch.index}: the two schedules disagree: {values}")
    print(
        f"preset {args.preset}: C={cfg.model.C} N={cfg.model.N} {cfg.data.resolution}px, proxies' "
        f"batch {cfg.proxies.batch_size}; {len(cells)} cells (seed {args.seed}), {args.threads} thread(s); "
        "values identical in both schedules"
    )
    print(f"{'seconds per cell':<22}{'per copy':>10}{'shared':>10}{'ratio':>8}")
    for name in ["params+flops", *names]:
        a, b = np.mean(seconds["per copy"][name]), np.mean(seconds["shared"][name])
        print(f"{name:<22}{a:>10.4f}{b:>10.4f}{a / b:>8.1f}")
    a, b = np.mean(walls["per copy"]), np.mean(walls["shared"])
    print(f"{'all, wall per cell':<22}{a:>10.4f}{b:>10.4f}{a / b:>8.1f}")
    for label in runs:
        hours = np.mean(walls[label]) * space.NUM_ARCHS / args.workers / 3600
        print(f"projected whole space, {label}: {hours:.2f} h with {args.workers} workers of {args.threads} thread(s)")


if __name__ == "__main__":
    main()
