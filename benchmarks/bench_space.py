"""Seconds per cell of the training-free metrics: an earlier revision of the scorer against this one,
side by side on the same cells in one run.

Usage: NBCAP_DATA=../shared python benchmarks/bench_space.py --before REV [--preset quick --cells 40
--threads 1 --metrics ...] [--train --set train.epochs=1]

REV is any git revision of this repository (``git worktree`` checks it out in a temporary folder). Two
worker processes (``space_worker.py``), one per revision, load the data once; the cells are sent to
them alternately, one at a time, so drift in the machine's speed hits both alike, and a worker's
start-up is not timed. Each cell's time includes building its network, the proxies' batch and the
parameter/FLOP count. Prints seconds per metric (its own work plus its share of the passes it
reads) for both, the largest relative difference of their values, and the whole space projected for
``--workers`` processes. ``--train`` trains the cells instead (the preset's training, ``--set`` to
change it) and compares the trainer's seconds per cell and the final validation accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from nasbench_capacitance import metrics
from nasbench_capacitance.nb201 import space

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "space_worker.py"
TODAYS_TABLE = [  # the training-free metrics of the shipped whole-space table's first release
    "grad_norm", "snip", "plain", "grasp", "fisher", "jacob_cov", "epe_nas", "nwot", "beta_init",
    "synflow", "zen", "l2_norm",
]  # fmt: skip


class Worker:
    """A ``space_worker.py`` process scoring with the package found at ``tree``."""

    def __init__(self, tree: Path, args: argparse.Namespace, names: list[str]):
        env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": str(args.threads)}
        command = [sys.executable, str(WORKER), "--preset", args.preset, "--metrics", ",".join(names)]
        command += ["--threads", str(args.threads), *(f"--set={o}" for o in args.overrides)]
        command += ["--train"] if args.train else []
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self._read()  # ready

    def _read(self) -> dict:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"a benchmark worker stopped (exit {self.process.wait()}); its error is above")
        return json.loads(line)

    def score(self, index: int) -> dict:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{index}\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", required=True, metavar="REV", help="the git revision to compare against")
    p.add_argument("--preset", default="quick")
    p.add_argument("--cells", type=int, default=40)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workers", type=int, default=2, help="processes assumed for the whole-space projection")
    p.add_argument("--metrics", help="comma-separated init metrics (default: the first shipped table's twelve)")
    p.add_argument("--seed", type=int, default=0, help="which cells (a seeded uniform sample)")
    p.add_argument("--train", action="store_true", help="train the cells instead of scoring them")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args()
    names = metrics.check_names(args.metrics.split(",")) if args.metrics else TODAYS_TABLE
    names = ["val_acc"] if args.train else names
    cells = space.sample_indices(args.cells + 1, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        before_tree = Path(tmp) / "before"
        git = ["git", "-C", str(ROOT), "worktree"]
        subprocess.run([*git, "add", "-q", "--detach", str(before_tree), args.before], check=True)
        try:
            sides = {"before": Worker(before_tree, args, names), "now": Worker(ROOT, args, names)}
            results: dict[str, list[dict]] = {k: [] for k in sides}
            for n, index in enumerate(cells):
                for label, worker in sides.items():
                    result = worker.score(index)
                    if n:  # the first cell warms both up (allocator, per-operation counts)
                        results[label].append(result)
            for worker in sides.values():
                worker.close()
        finally:
            subprocess.run([*git, "remove", "--force", str(before_tree)], check=True)
    report(results, names, args)


def report(results: dict[str, list[dict]], names: list[str], args: argparse.Namespace) -> None:
    before, now = results["before"], results["now"]
    print(
        f"preset {args.preset}: {len(now)} cells (seed {args.seed}), {args.threads} thread(s) per process; "
        f"before = {args.before}, now = the working tree"
    )
    print(f"{'seconds per cell':<18}{'before':>9}{'now':>9}{'speed-up':>9}{'max rel diff':>14}")
    for name in ["train" if args.train else "setup", *names]:
        a = np.mean([r["seconds"].get(name, np.nan) for r in before])
        b = np.mean([r["seconds"].get(name, np.nan) for r in now])
        diff = ""
        if name in now[0]["values"]:
            x = np.array([r["values"][name] for r in before])
            y = np.array([r["values"][name] for r in now])
            diff = f"{np.max(np.abs(x - y) / np.maximum(np.abs(x), 1e-12)):.1e}"
        print(f"{name:<18}{a:>9.4f}{b:>9.4f}{a / b:>8.2f}x{diff:>14}")
    a, b = np.mean([r["wall"] for r in before]), np.mean([r["wall"] for r in now])
    print(f"{'all, wall':<18}{a:>9.4f}{b:>9.4f}{a / b:>8.2f}x")
    for label, wall in () if args.train else (("before", a), ("now", b)):
        minutes = wall * space.NUM_ARCHS / args.workers / 60
        print(f"whole space, {label}: {minutes:.0f} min with {args.workers} processes of {args.threads} thread(s)")


if __name__ == "__main__":
    main()
