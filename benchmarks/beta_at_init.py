"""β_eff at initialisation, no training: how well does the probe's first snapshot rank NB201 cells?

Usage: NBCAP_DATA=../shared python benchmarks/beta_at_init.py --sample dev|held-out [--seeds 0,1,2]
           [--cells N] [--out out/beta-init] [--ablation FIGURE]

The development runs showed β_gradient's snapshot at initialisation ranking far better than any
later one. This takes exactly that snapshot (quick's network, channels-last, the seeded probe batch
of 256 training images; equal to the runs' stored epoch-0 values) for both probe inputs (``eval``:
running BatchNorm statistics; ``batch``: the probe batch's own), over several initialisation seeds, and prints
Kendall τ against the 200-epoch accuracy as mean ± sd over the seeds, beside the registered
``beta_init`` zero-cost proxy as ``nbcap space`` scores it (the proxies' batch of 64, a probe seeded
on its own) and the zero-cost proxies of the shipped whole-space table on the same cells.
``--sample dev`` is the development sample the choice was made on; ``--sample held-out`` is the
held-out study's sample (beta_study.py), which no choice has seen. Seconds per cell are timed on the
current thread count.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from beta_study import draw as draw_ablation
from beta_study import held_out_sample
from beta_study import write_csv as write_rows
from fidelity_frontier import PROTOCOLS, TARGET, dev_sample, protocol_config

from nasbench_capacitance import metrics, paths
from nasbench_capacitance.capacitance.probe import ProbeRecorder
from nasbench_capacitance.config import StudyConfig, read_toml
from nasbench_capacitance.data import ground_truth
from nasbench_capacitance.data.cifar10 import TrainingData
from nasbench_capacitance.evaluation import ablation, ranking
from nasbench_capacitance.metrics import zero_cost
from nasbench_capacitance.nb201.model import build_network
from nasbench_capacitance.study.evaluate import prepare_data
from nasbench_capacitance.training import probe_features
from nasbench_capacitance.whole_space.table import reference_table

PROBE_INPUTS = ("eval", "batch")


def beta_at_init(cell: int, cfg: StudyConfig, data: TrainingData) -> dict[str, float]:
    """β_gradient of the initialised network's probe, per probe input: the trainer's epoch-0 snapshot."""
    with torch.random.fork_rng():
        torch.manual_seed(cfg.run.seed)
        net = build_network(
            cell, C=cfg.model.C, N=cfg.model.N, head="probe", probe_widths=tuple(cfg.model.probe_widths)
        )
    if cfg.train.channels_last:
        net = net.to(memory_format=torch.channels_last)
    x, y = data.train.fixed_batch(cfg.train.probe_batch_size, seed=cfg.run.seed)
    out = {}
    for mode in PROBE_INPUTS:
        recorder = ProbeRecorder(net.head, ("gradient",))
        recorder.snapshot(0.0, 0, probe_features(net, x, mode), y)
        out[mode] = float(recorder.result().beta("gradient").values[0])
    return out


def registered_proxy(cell: int, cfg: StudyConfig, data: TrainingData) -> float:
    """The ``beta_init`` zero-cost proxy as ``nbcap space`` scores it: the proxies' network and batch (64)."""
    setup = zero_cost.make_setup(
        cell, data.train, C=cfg.model.C, N=cfg.model.N, batch_size=cfg.proxies.batch_size, seed=cfg.run.seed
    )
    return metrics.score(["beta_init"], None, setup.network.arch, setup)["beta_init"]["0"]


# β at init as one more free feature: the model with and without it (ablation.ablate).
INIT_ABLATION = {
    "feature_sets": {"free": ("free",), "free+beta": ("free", "beta"), "beta": ("beta",)},
    "increments": (("free+beta", "free"),),
}


def seed_means(per_seed: list[list[ablation.AblationRow]]) -> list[ablation.AblationRow]:
    """One row per (model, size, features): τ mean and sd over the seeds, the seeds' interval bounds averaged."""
    out = []
    for rows in zip(*per_seed):
        taus = [r.tau for r in rows]
        sd = statistics.stdev(taus) if len(taus) > 1 else float("nan")
        low, high = statistics.mean(r.low for r in rows), statistics.mean(r.high for r in rows)
        out.append(dataclasses.replace(rows[0], tau=statistics.mean(taus), sd=sd, low=low, high=high))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sample", choices=("dev", "held-out"), required=True)
    p.add_argument("--cells", type=int, help="cells (default: 60 for dev, 300 held out)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="out/beta-init")
    p.add_argument("--ablation", help="also fit the free features with and without β at init; draw to this png")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.sample == "dev":
        cells = dev_sample(args.cells or 60)
    else:
        cells = held_out_sample(args.cells or 300, 60, [])
    truth = ground_truth.GroundTruth.from_table(paths.ground_truth_table(), TARGET).accuracies(cells)
    spec = read_toml(PROTOCOLS)["quick"]
    table = reference_table()
    params = table["params"][cells]
    readings = (*PROBE_INPUTS, "proxy")  # the probe's two inputs; the registered beta_init proxy
    taus: dict[str, list[float]] = {m: [] for m in readings}
    partial: dict[str, list[float]] = {m: [] for m in readings}
    seconds = []
    rows = []
    betas = []  # per seed: the batch-input β of every cell
    for seed in (int(s) for s in args.seeds.split(",")):
        cfg = protocol_config(spec, cells, seed, workers=1, threads=args.threads)
        data = prepare_data(cfg)
        values = {m: [] for m in readings}
        for cell in cells:
            start = time.perf_counter()
            beta = beta_at_init(cell, cfg, data)
            seconds.append(time.perf_counter() - start)
            beta["proxy"] = -registered_proxy(cell, cfg, data)  # back to β's sign, as the other readings
            rows.append({"seed": seed, "index": cell, **{f"beta_{m}": beta[m] for m in readings}})
            for m in readings:
                values[m].append(beta[m])
        betas.append(np.array(values["batch"]))
        for m in readings:
            taus[m].append(ranking.kendall_tau(np.array(values[m]), truth))
            partial[m].append(ranking.partial_kendall_tau(np.array(values[m]), truth, params))
        print(f"seed {seed}: " + ", ".join(f"{m} τ {taus[m][-1]:+.3f}" for m in readings), flush=True)
    cost = statistics.median(seconds)
    print(f"{args.sample} sample, {len(cells)} cells, seeds {args.seeds}; {cost:.2f} s per cell (both inputs)")
    for m in readings:
        sd = statistics.stdev(taus[m]) if len(taus[m]) > 1 else float("nan")
        given = f"τ|params {statistics.mean(partial[m]):+.3f}"
        what = "the beta_init proxy (batch 64)   " if m == "proxy" else f"β_gradient at init, probe input {m:<5}"
        print(f"{what}  τ {statistics.mean(taus[m]):+.3f} ± {sd:.3f}  {given}")
    for name in ablation.free_block(cells, table)[1]:
        score = table[name][cells]
        tau, given = ranking.kendall_tau(score, truth), ranking.partial_kendall_tau(score, truth, params)
        print(f"{name:<10} (whole-space table)  τ {tau:+.3f}  τ|params {given:+.3f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.ablation:
        free = ablation.free_block(cells, table)[0]
        per_seed = [ablation.ablate({"free": free, "beta": b[:, None]}, truth, **INIT_ABLATION) for b in betas]
        merged = seed_means(per_seed)
        write_rows([r.as_dict() for r in merged], out / f"{args.sample}_ablation.csv")
        for r in merged:
            interval = f"[{r.low:+.3f}, {r.high:+.3f}]"
            print(f"{r.model:<6} n={r.calibration:<4} {r.features:<16} {r.tau:+.3f} ± {r.sd:.3f} {interval}")
        draw_ablation(merged, Path(args.ablation))
    write_rows(rows, out / f"{args.sample}.csv")


if __name__ == "__main__":
    main()
