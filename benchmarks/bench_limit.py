"""How far each training-free metric is from the compute limit: its FLOPs per cell against what the
machine delivers on dense convolutions of the network's own shapes.

Usage: NBCAP_DATA=../shared python benchmarks/bench_limit.py [--preset quick --cells 12 --threads 1]

- FLOPs: every convolution and matrix product a metric runs for one cell (forward, backward, double
  backward), counted by ``torch.utils.flop_counter`` with the metric alone on a fresh setup (so a pass
  it shares with others is counted in full for each); elementwise work (BatchNorm, ReLU, pooling) is
  not counted, which makes the fraction an upper bound on how well the convolutions are used. Work
  done inside ``torch.func`` transforms (VKDNW's per-sample Jacobian, ``vmap(jacrev)``) is counted at
  the batched shapes the transform lowers it to, many times the real work, so those metrics show their
  seconds only and "all together" leaves them out.
- Seconds: the same metric alone, timed without the counter.
- Limit: forward and backward of a 3x3 convolution at each stage's shape (the proxies' batch, C, 2C, 4C
  channels at full, half and quarter resolution), the best of several repeats, FLOP-weighted as a
  typical cell spends them; a dense convolution is the fastest work these networks contain.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from nasbench_capacitance import config, metrics
from nasbench_capacitance.metrics import zero_cost
from nasbench_capacitance.nb201 import space
from nasbench_capacitance.study.evaluate import prepare_data, resolve_device


class FlopCounter(TorchDispatchMode):
    """FLOPs of the convolutions and matrix products run inside it, by PyTorch's own formulas
    (``torch.utils.flop_counter``), without the module tracking that ``FlopCounterMode`` adds (it
    refuses gradients taken with respect to an input, as the activation pass does)."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.total += count(*args, **kwargs, out_val=out)
        return out


UNCOUNTABLE = ("vkdnw_entropy", "vkdnw")  # computed under vmap: the counter sees the batched shapes


def dense_conv_rate(batch: int, channels: int, resolution: int, repeats: int = 5) -> tuple[float, list[str]]:
    """GFLOP/s of forward + backward 3x3 convolutions at the three stages' shapes, weighted by their FLOPs."""
    flops_total, seconds_total, lines = 0.0, 0.0, []
    for stage in range(3):
        c, r = channels * 2**stage, max(1, resolution // 2**stage)
        x = torch.randn(batch, c, r, r, requires_grad=True)
        w = torch.randn(c, c, 3, 3, requires_grad=True)
        with FlopCounter() as counter:
            F.conv2d(x, w, padding=1).sum().backward()
        flops = counter.total
        best = np.inf
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(10):
                F.conv2d(x, w, padding=1).sum().backward()
            best = min(best, (time.perf_counter() - start) / 10)
        lines.append(f"  conv3x3 {batch}x{c}x{r}x{r}: {flops / best / 1e9:6.1f} GFLOP/s")
        flops_total += flops
        seconds_total += best
    return flops_total / seconds_total / 1e9, lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="quick", choices=config.PRESETS)
    p.add_argument("--cells", type=int, default=12)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--metrics", help="comma-separated init metrics (default: every one)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = config.load(args.preset)
    images = prepare_data(cfg, resolve_device(cfg.run.device)).train
    names = args.metrics.split(",") if args.metrics else metrics.available("init")
    cells = [space.arch_from_index(i) for i in space.sample_indices(args.cells, seed=0)]

    def setup(arch: space.Arch) -> zero_cost.ProxySetup:
        return zero_cost.make_setup(
            arch, images, C=cfg.model.C, N=cfg.model.N, batch_size=cfg.proxies.batch_size, seed=cfg.run.seed
        )

    metrics.score(names, None, cells[0], setup(cells[0]))  # warm-up
    flops: dict[str, list[float]] = {n: [] for n in [*names, "all together"]}
    seconds: dict[str, list[float]] = {n: [] for n in flops}
    for arch in cells:
        for name in names:
            with FlopCounter() as counter:
                metrics.score([name], None, arch, setup(arch))
            flops[name].append(counter.total)
            fresh = setup(arch)
            start = time.perf_counter()
            metrics.score([name], None, arch, fresh)
            seconds[name].append(time.perf_counter() - start)
        countable = [n for n in names if n not in UNCOUNTABLE]
        with FlopCounter() as counter:
            metrics.score(countable, None, arch, setup(arch))
        flops["all together"].append(counter.total)
        fresh = setup(arch)
        start = time.perf_counter()
        metrics.score(countable, None, arch, fresh)
        seconds["all together"].append(time.perf_counter() - start)
    rate, lines = dense_conv_rate(cfg.proxies.batch_size, cfg.model.C, cfg.data.resolution)
    print(
        f"preset {args.preset}: C={cfg.model.C} N={cfg.model.N} {cfg.data.resolution}px, batch "
        f"{cfg.proxies.batch_size}; {len(cells)} cells, {args.threads} thread(s)"
    )
    print(f"dense 3x3 convolutions, forward + backward: {rate:.1f} GFLOP/s per process ({args.threads} thread(s))")
    print("\n".join(lines))
    print(f"{'metric':<20}{'GFLOP/cell':>11}{'s/cell':>9}{'GFLOP/s':>9}{'of limit':>9}{'limit s':>9}")
    for name in flops:
        f, s = np.mean(flops[name]) / 1e9, np.mean(seconds[name])
        if name in UNCOUNTABLE:
            print(f"{name:<20}{'(vmap)':>11}{s:>9.4f}")
            continue
        label = "all but vkdnw" if name == "all together" and set(UNCOUNTABLE) & set(names) else name
        print(f"{label:<20}{f:>11.3f}{s:>9.4f}{f / s:>9.1f}{f / s / rate:>9.0%}{f / rate:>9.4f}")


if __name__ == "__main__":
    main()
