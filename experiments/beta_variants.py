"""β_eff readings on the frontier's development runs: which reading of the trajectory ranks best?

Usage: NBCAP_DATA=../shared python experiments/beta_variants.py --frontier out/frontier [--protocols quick,...]

Reads the runs ``experiments/fidelity_frontier.py`` stored (development sample only: no reported
study's cells) and scores every reading of every β_eff strategy the run recorded
(nasbench_capacitance.study.readings). Printed and written to ``FRONTIER/beta_variants.csv``: Kendall
τ against the 200-epoch accuracy, mean ± sd over training seeds (each seed on the cells it finished).
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

from nasbench_capacitance import paths
from nasbench_capacitance.data.ground_truth import GroundTruth
from nasbench_capacitance.evaluation import ranking
from nasbench_capacitance.outputs import write_rows
from nasbench_capacitance.store.results import load_records
from nasbench_capacitance.study import readings, samples


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frontier", required=True, help="the --out folder of fidelity_frontier.py")
    p.add_argument("--protocols", help="comma-separated protocol folders (default: every one with runs)")
    args = p.parse_args()
    root = Path(args.frontier)
    names = args.protocols.split(",") if args.protocols else sorted(d.name for d in root.iterdir() if d.is_dir())
    truth = GroundTruth.from_table(paths.ground_truth_table(), samples.TARGET)
    rows = []
    for protocol in names:
        taus: dict[str, list[float]] = {}
        cells = set()
        for run_dir in sorted((root / protocol).glob("seed-*")):
            ok = [r for r in load_records(run_dir)[1] if r["status"] == "ok"]
            if not ok:
                continue
            accuracy = truth.accuracies([r["index"] for r in ok])
            cells.add(len(ok))
            for variant, scores in readings.variant_scores(ok).items():
                taus.setdefault(variant, []).append(ranking.kendall_tau(scores, accuracy))
        for variant, all_values in taus.items():
            values = [v for v in all_values if math.isfinite(v)]  # a constant score (β_weight at init) has no τ
            if not values:
                continue
            sd = statistics.stdev(values) if len(values) > 1 else float("nan")
            n = "/".join(map(str, sorted(cells)))
            rows.append({"protocol": protocol, "variant": variant, "cells": n, "seeds": len(values)})
            rows[-1] |= {"tau": statistics.mean(values), "sd": sd}
            print(f"{protocol:<18} {variant:<28} τ {rows[-1]['tau']:+.3f} ± {sd:.3f}  ({len(values)} seeds, n={n})")
    if rows:
        write_rows(root / "beta_variants.csv", rows)


if __name__ == "__main__":
    main()
