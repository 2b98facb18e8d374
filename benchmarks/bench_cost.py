"""Cost of every predictor at a preset: seconds per architecture of each zero-cost proxy, and per training epoch.

Usage: NBCAP_DATA=../shared python benchmarks/bench_cost.py [--preset quick --archs 6 --threads 2]

Evaluates ``--archs`` sampled architectures exactly as ``nbcap run`` does (``evaluate_architecture``)
and prints the mean seconds of each proxy, of one training epoch (forward/backward/step, data,
evaluation and probe snapshots together) and of the β_eff kernel, so predictors can be compared at
equal cost. The curve predictors (validation accuracy, TSE, LCE...) cost the epochs they read.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from nasbench_capacitance import config
from nasbench_capacitance.study.evaluate import evaluate_architecture, prepare_data, resolve_device
from nasbench_capacitance.study.run import sample


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="quick", choices=config.PRESETS)
    p.add_argument("--archs", type=int, default=6)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = config.load(args.preset, overrides=[f"sample.archs={args.archs}", *args.overrides])
    td = prepare_data(cfg, resolve_device(cfg.run.device))
    records = []
    start = time.perf_counter()
    for index in sample(cfg):
        records.append(evaluate_architecture(index, cfg, td))
        print(f"  arch {index:>5}: {records[-1]['timings']['wall']:6.1f} s ({records[-1]['status']})", flush=True)
    wall = time.perf_counter() - start
    mean = lambda key: float(np.mean([r["timings"].get(key, np.nan) for r in records]))  # noqa: E731
    epochs = cfg.train.epochs
    print(
        f"\npreset {args.preset}: C={cfg.model.C} N={cfg.model.N} {cfg.data.resolution}px, "
        f"{td.description['train_images']} train images, proxies on a batch of {cfg.proxies.batch_size}; "
        f"{len(records)} architectures, {args.threads} threads, {wall / len(records):.1f} s per architecture in all"
    )
    print(f"{'what':<34}{'seconds per architecture':>26}")
    proxies = sorted((k[3:] for k in records[0]["timings"] if k.startswith("zc_")), key=lambda n: -mean(f"zc_{n}"))
    for name in proxies:
        print(f"{'proxy ' + name:<34}{mean(f'zc_{name}'):>26.3f}")
    print(f"{'all proxies':<34}{sum(mean(f'zc_{n}') for n in proxies):>26.3f}")
    if epochs:
        print(f"{'one training epoch (incl. eval)':<34}{mean('total') / epochs:>26.3f}")
        print(f"{'  of which validation':<34}{mean('eval') / epochs:>26.3f}")
        print(f"{'  of which probe snapshots':<34}{mean('probe') / epochs:>26.3f}")
        print(f"{'β_eff kernel and curve metrics':<34}{mean('kernel'):>26.3f}")


if __name__ == "__main__":
    main()
