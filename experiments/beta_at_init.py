"""β_eff at initialisation, no training: how well does the probe's first snapshot rank NB201 cells?

Usage: NBCAP_DATA=../shared python experiments/beta_at_init.py --sample dev|held-out [--seeds 0,1,2]
           [--cells N] [--out out/beta-init] [--ablation FIGURE]

The probe's snapshot before any SGD step (quick's network, channels-last, the seeded probe batch of
256 training images; equal to the runs' stored epoch-0 values) for both probe inputs, over several
initialisation seeds, beside the registered ``beta_init`` proxy as ``nbcap space`` scores it and the
zero-cost proxies of the shipped whole-space table on the same cells: Kendall τ against the 200-epoch
accuracy, mean ± sd over the seeds. ``--sample dev`` is where the choice was made; ``--sample
held-out`` is the held-out study's sample. ``--ablation`` fits the free features with and without β.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from nasbench_capacitance import paths, plots
from nasbench_capacitance.data.ground_truth import GroundTruth
from nasbench_capacitance.evaluation import ablation, ranking
from nasbench_capacitance.outputs import write_rows
from nasbench_capacitance.study import beta_study, protocols, samples
from nasbench_capacitance.study.evaluate import prepare_data
from nasbench_capacitance.whole_space.table import reference_table


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
        cells = samples.dev_sample(args.cells or samples.DEV_CELLS)
    else:
        cells = samples.held_out_sample(args.cells or samples.STUDY_CELLS)
    smallest = ablation.MIN_HELD_OUT + min(ablation.DEFAULT_SIZES)
    if args.ablation and len(cells) < smallest:
        p.error(f"--ablation needs at least {smallest} cells (the smallest calibration set and its held-out cells)")
    truth = GroundTruth.from_table(paths.ground_truth_table(), samples.TARGET).accuracies(cells)
    table = reference_table()
    params = table["params"][cells]
    readings = (*beta_study.PROBE_INPUTS, "proxy")  # the probe's two inputs; the registered beta_init proxy
    taus: dict[str, list[float]] = {m: [] for m in readings}
    partial: dict[str, list[float]] = {m: [] for m in readings}
    seconds, rows, betas = [], [], []  # betas: per seed, the batch-input β of every cell
    for seed in (int(s) for s in args.seeds.split(",")):
        cfg = protocols.protocol_config("quick", cells, seed, workers=1, threads=args.threads)
        data = prepare_data(cfg)
        values: dict[str, list[float]] = {m: [] for m in readings}
        for cell in cells:
            start = time.perf_counter()
            beta = beta_study.beta_at_init(cell, cfg, data)
            seconds.append(time.perf_counter() - start)
            beta["proxy"] = -beta_study.registered_proxy(cell, cfg, data)  # back to β's sign, as the others
            rows.append({"seed": seed, "index": cell, **{f"beta_{m}": beta[m] for m in readings}})
            for m in readings:
                values[m].append(beta[m])
        betas.append(np.array(values["batch"]))
        for m in readings:
            taus[m].append(ranking.kendall_tau(np.array(values[m]), truth))
            partial[m].append(ranking.partial_kendall_tau(np.array(values[m]), truth, params))
        print(f"seed {seed}: " + ", ".join(f"{m} τ {taus[m][-1]:+.3f}" for m in readings), flush=True)
    print(f"{args.sample} sample, {len(cells)} cells, seeds {args.seeds}; {statistics.median(seconds):.2f} s per cell")
    for m in readings:
        sd = statistics.stdev(taus[m]) if len(taus[m]) > 1 else float("nan")
        what = "the beta_init proxy (batch 64)   " if m == "proxy" else f"β_gradient at init, probe input {m:<5}"
        print(f"{what}  τ {statistics.mean(taus[m]):+.3f} ± {sd:.3f}  τ|params {statistics.mean(partial[m]):+.3f}")
    for name in ablation.free_block(cells, table)[1]:
        score = table[name][cells]
        tau, given = ranking.kendall_tau(score, truth), ranking.partial_kendall_tau(score, truth, params)
        print(f"{name:<10} (whole-space table)  τ {tau:+.3f}  τ|params {given:+.3f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_rows(out / f"{args.sample}.csv", rows)
    if args.ablation:
        free = ablation.free_block(cells, table)[0]
        sets = {"feature_sets": beta_study.INIT_FEATURE_SETS, "increments": beta_study.INIT_INCREMENTS}
        merged = beta_study.seed_means(
            [ablation.ablate({"free": free, "beta": b[:, None]}, truth, **sets) for b in betas]
        )
        write_rows(out / f"{args.sample}_ablation.csv", [r.as_dict() for r in merged])
        for r in merged:
            print(r.line())
        plots.ablation_curves(Path(args.ablation), merged, samples.TARGET)


if __name__ == "__main__":
    main()
