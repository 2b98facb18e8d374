"""One side of ``bench_space.py``: scores the cells it reads from stdin with whatever revision of the
package is on its path, one JSON line per cell on stdout (values, seconds per proxy, wall seconds).

With ``--train`` it trains each cell instead (``study.evaluate.evaluate_architecture`` with the
preset's training and no proxies) and reports the trainer's seconds.

It uses only what every revision the benchmark compares provides: ``config.load``,
``study.evaluate.prepare_data`` and ``evaluate_architecture``, ``metrics.zero_cost.make_setup``,
``metrics.score`` and ``metrics.cost.nb201_costs``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from nasbench_capacitance import config, metrics
from nasbench_capacitance.metrics import cost, zero_cost
from nasbench_capacitance.nb201 import space
from nasbench_capacitance.study.evaluate import evaluate_architecture, prepare_data, resolve_device


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", required=True)
    p.add_argument("--metrics", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--train", action="store_true", help="train each cell (no proxies) instead of scoring it")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = config.load(args.preset, overrides=args.overrides)
    data = prepare_data(cfg, resolve_device(cfg.run.device))
    images = data.train
    names = args.metrics.split(",")
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if args.train:
            record = evaluate_architecture(int(line), cfg, data, names=["val_acc"])
            timings = record["timings"]
            values = {"val_acc": record["metrics"]["val_acc"][str(cfg.train.epochs)]}
            print(json.dumps({"values": values, "seconds": {"train": timings["total"]}, "wall": timings["wall"]}))
            sys.stdout.flush()
            continue
        arch = space.arch_from_index(int(line))
        start = time.perf_counter()
        cost.nb201_costs(arch)
        setup = zero_cost.make_setup(
            arch, images, C=cfg.model.C, N=cfg.model.N, batch_size=cfg.proxies.batch_size, seed=cfg.run.seed
        )
        built = time.perf_counter() - start
        scores = metrics.score(names, None, arch, setup)
        wall = time.perf_counter() - start
        values = {n: v["0"] for n, v in scores.items()}
        print(json.dumps({"values": values, "seconds": {**setup.timings, "setup": built}, "wall": wall}), flush=True)


if __name__ == "__main__":
    main()
