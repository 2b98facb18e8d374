"""The fidelity frontier: how well each reduced training protocol ranks NB201, against its CPU seconds.

Usage: NBCAP_DATA=../shared python experiments/fidelity_frontier.py --out out/frontier
           [--protocols quick,r16,...] [--seeds 0,1,2] [--workers 2] [--threads 1] [--report-only]

Every protocol (a preset, nasbench_capacitance.study.protocols) trains the 60-cell development sample
once per training seed, each run a resumable study in ``OUT/<protocol>/seed-<s>`` (kill it and run it
again). Printed and written to ``OUT/frontier.csv``: per protocol, seconds per cell and Kendall τ of
validation accuracy and of every β_eff strategy at the last epoch, mean ± sd over the training seeds
with a 95% bootstrap interval over the cells; ``OUT/frontier.png`` (and ``--figure``) draws them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nasbench_capacitance import config, paths, plots
from nasbench_capacitance.data.ground_truth import GroundTruth
from nasbench_capacitance.outputs import write_rows
from nasbench_capacitance.study import frontier, protocols, samples
from nasbench_capacitance.study.run import run_study


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--protocols", default=",".join(protocols.FRONTIER), help="comma-separated presets")
    p.add_argument("--seeds", default="0,1,2", help="training seeds")
    p.add_argument("--dev-cells", type=int, default=samples.DEV_CELLS)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch threads per cell (0: the cores shared out)")
    p.add_argument("--report-only", action="store_true", help="summarise what is stored, train nothing")
    p.add_argument("--figure", help="also draw the frontier to this path (e.g. figures/fidelity_frontier.png)")
    args = p.parse_args()
    names = args.protocols.split(",")
    unknown = [n for n in names if n not in config.PRESETS]
    if unknown:
        sys.exit(f"unknown protocol(s) {unknown}; the presets are {', '.join(config.PRESETS)}")
    out = Path(args.out)
    cells = samples.dev_sample(args.dev_cells)
    if not args.report_only:
        for seed in (int(s) for s in args.seeds.split(",")):
            for name in names:
                print(f"{name}, seed {seed}", file=sys.stderr)
                cfg = protocols.protocol_config(name, cells, seed, args.workers, args.threads)
                run_study(cfg, out / name / f"seed-{seed}")
    truth = GroundTruth.from_table(paths.ground_truth_table(), samples.TARGET)
    rows = frontier.summarise(out, names, truth)
    if not rows:
        sys.exit(f"no finished runs under {out}: run without --report-only first")
    columns = sorted({k for r in rows for k in r}, key=lambda k: (k != "protocol", k))
    write_rows(out / "frontier.csv", [{c: r.get(c) for c in columns} for r in rows])
    for row in rows:
        taus = "  ".join(f"{k[4:]} {row[k]:+.3f}±{row['sd_' + k[4:]]:.3f}" for k in sorted(row) if k.startswith("tau_"))
        size = f"{row['runs']}×{row['cells']} cells"
        print(f"{row['protocol']:<18} {row['seconds_per_cell']:6.1f} s/cell  {size}  {taus}")
    front = frontier.pareto_front(rows)
    for path in [out / "frontier.png", *([Path(args.figure)] if args.figure else [])]:
        plots.fidelity_frontier(path, rows, front, samples.TARGET)


if __name__ == "__main__":
    main()
