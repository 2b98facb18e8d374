"""CIFAR-10 pipeline speed: first decode into the cache, second load, batched augmentation throughput.

Usage: python benchmarks/bench_data.py [--source PATH] [--device cpu]
The first load decodes into a fresh temporary cache, so it measures the one-time cost; the second
load reads that cache (target: under 2 s for all 60,000 images).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from nasbench_capacitance.data import cifar10


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default=None, help="a CIFAR-10 source (default: the one found under NBCAP_DATA)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    source = args.source or cifar10.find_source()
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        cifar10.load_cifar10(source, cache_dir=cache)
        first = time.perf_counter() - start
        start = time.perf_counter()
        cifar = cifar10.load_cifar10(source, cache_dir=cache)
        second = time.perf_counter() - start
    print(f"source {source}")
    print(f"first load (decode + write cache): {first:.1f} s; second load (cache): {second:.2f} s for 60,000 images")
    td = cifar10.prepare("cifar10-valid", data=cifar, device=args.device)
    g = torch.Generator(device=args.device).manual_seed(0)
    for _ in td.train.batches(256, g, shuffle=True, augment=True):  # warm-up
        pass
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in td.train.batches(256, g, shuffle=True, augment=True):
        pass
    sync()
    elapsed = time.perf_counter() - start
    print(
        f"one augmented epoch of {len(td.train)} 32x32 images on {args.device} (batch 256): {elapsed:.2f} s "
        f"({len(td.train) / elapsed:,.0f} images/s)"
    )


if __name__ == "__main__":
    main()
