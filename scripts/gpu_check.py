"""Everything a GPU machine should measure, in one command and about 8 minutes: the CUDA tests, a
smoke study on the GPU, the full network's training throughput (one architecture, then several at
once), the whole-space proxies at the full network on a range of cells, and a short ``paper`` study.

Usage (from the repository root, the data in an ignored folder): ``scripts/gpu_check.sh OUT`` on
the GPU machine; ``scripts/gpu_check.sh --dry-run OUT`` runs every step on tiny CPU settings in
seconds (the test suite does, so the script cannot rot).

Each step runs as its own command with a time limit; a step that fails or runs out of time is
reported and the next one runs. OUT receives ``gpu_report.md`` and ``gpu_report.json`` (the device,
torch and CUDA versions, every number) and the stores the steps made (``OUT/space``, ``OUT/paper``):
run the script again with the same OUT and the studies resume where they stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nasbench_capacitance.store.results import load_records  # noqa: E402


@dataclass(frozen=True)
class Settings:
    """The sizes of every step: the GPU's, or tiny ones for the dry run on the CPU."""

    device: str
    smoke: list[str]
    network: list[str]  # the full network's settings for training throughput
    train_archs: int
    at_once: int
    space_range: str
    space_preset: str
    paper: list[str]
    limits: dict[str, int] = field(default_factory=dict)  # step -> seconds


GPU = Settings(
    device="cuda",
    smoke=["--preset", "smoke", "--set", "run.device=cuda"],
    network=["--preset", "paper", "--set", "train.epochs=1", "--set", "proxies.names=[]"],
    train_archs=2,
    at_once=4,
    space_range="0:400",
    space_preset="standard",
    paper=["--preset", "paper", "--set", "sample.archs=100"],
    limits={"tests": 60, "smoke": 45, "train_one": 75, "train_many": 90, "space": 75, "paper": 120},
)
DRY = Settings(
    device="cpu",
    smoke=["--preset", "smoke", "--set", "run.device=cpu", "--set", "sample.archs=2", "--set", "train.epochs=1"],
    network=["--preset", "smoke", "--set", "run.device=cpu", "--set", "train.epochs=1", "--set", "proxies.names=[]"],
    train_archs=1,
    at_once=2,
    space_range="0:4",
    space_preset="smoke",
    paper=["--preset", "smoke", "--set", "run.device=cpu", "--set", "sample.archs=2", "--set", "train.epochs=1"],
    limits={"tests": 60, "smoke": 60, "train_one": 60, "train_many": 60, "space": 60, "paper": 60},
)


class Utilisation:
    """The GPU's utilisation, sampled by nvidia-smi every second while a step runs (none without it)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._tool = shutil.which("nvidia-smi")
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Utilisation:
        if self._tool:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()

    def _run(self) -> None:
        query = [str(self._tool), "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-i", "0"]
        while not self._stop.wait(1.0):
            try:
                self.samples.append(float(subprocess.run(query, capture_output=True, text=True, timeout=5).stdout))
            except (ValueError, subprocess.SubprocessError):
                pass

    @property
    def mean(self) -> float | None:
        return mean(self.samples) if self.samples else None


class Check:
    """Runs the steps, keeps their numbers and writes the report."""

    def __init__(self, out: Path, settings: Settings):
        self.out, self.settings = out, settings
        self.steps: dict[str, dict] = {}
        self.env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(self, step: str, args: list[str], what: str) -> dict:
        """``python -m nasbench_capacitance ARGS`` (or ``-m pytest`` for the tests) within the step's limit."""
        limit = self.settings.limits[step]
        start = time.perf_counter()
        with Utilisation() as gpu:
            try:
                done = subprocess.run(
                    [sys.executable, "-m", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=limit
                )
                status, tail = ("ok" if done.returncode == 0 else f"exit {done.returncode}"), done.stdout + done.stderr
            except subprocess.TimeoutExpired as exc:
                status, tail = f"stopped at its {limit} s limit", _text(exc.stdout) + _text(exc.stderr)
        result = {"what": what, "status": status, "seconds": round(time.perf_counter() - start, 1)}
        if gpu.mean is not None:
            result["gpu_utilisation_percent"] = round(gpu.mean, 1)
        result["output_tail"] = tail[-1500:]
        self.steps[step] = result
        print(f"{step}: {status} in {result['seconds']} s", file=sys.stderr)
        return result

    def all(self) -> None:
        s, out = self.settings, self.out
        self.run("tests", ["pytest", "-q", "-m", "cuda", "tests/test_cuda.py"], "the CUDA tests")
        self.run("smoke", ["nasbench_capacitance", "run", *s.smoke, "--out", str(out / "smoke")], "a smoke study")
        self._training(s, out)
        space = self.run(
            "space",
            ["nasbench_capacitance", "space", "--preset", s.space_preset, "--set", f"run.device={s.device}",
             "--indices", s.space_range, "--no-figures", "--out", str(out / "space")],
            f"every training-free metric at the {s.space_preset} preset, cells {s.space_range}",
        )  # fmt: skip
        space.update(_per_cell(out / "space"))
        paper = self.run(
            "paper", ["nasbench_capacitance", "run", *s.paper, "--out", str(out / "paper")], "a short paper study"
        )
        paper.update(_per_cell(out / "paper"))

    def _training(self, s: Settings, out: Path) -> None:
        """Seconds per architecture-epoch of the full network: alone, then ``at_once`` processes at once."""
        one = self.run(
            "train_one",
            ["nasbench_capacitance", "run", *s.network, "--set", f"sample.archs={s.train_archs}",
             "--out", str(out / "train_one")],
            f"{s.train_archs} architectures, 1 epoch each, one at a time",
        )  # fmt: skip
        one.update(_per_cell(out / "train_one"))
        many = self.run(
            "train_many",
            ["nasbench_capacitance", "run", *s.network, "--set", f"sample.archs={s.at_once}", "--set",
             "run.seed=1", "--workers", str(s.at_once), "--out", str(out / "train_many")],
            f"{s.at_once} architectures, 1 epoch each, {s.at_once} processes sharing the device",
        )  # fmt: skip
        many.update(_per_cell(out / "train_many"))
        if many["status"] == "ok":
            many["aggregate_seconds_per_architecture_epoch"] = round(many["seconds"] / s.at_once, 2)

    def report(self) -> Path:
        info = {
            "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "cpu",
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "settings": "dry run (tiny, CPU)" if self.settings is DRY else "GPU",
            "steps": self.steps,
        }
        (self.out / "gpu_report.json").write_text(json.dumps(info, indent=2))
        lines = [
            "# GPU check",
            "",
            f"{info['device']}; torch {info['torch']}, CUDA {info['cuda']}; {info['settings']}.",
            "",
            "| step | what | status | seconds | per cell | GPU % |",
            "|---|---|---|---|---|---|",
        ]
        for name, r in self.steps.items():
            per_cell = r.get("seconds_per_cell", "")
            lines.append(
                f"| {name} | {r['what']} | {r['status']} | {r['seconds']} | {per_cell} | "
                f"{r.get('gpu_utilisation_percent', '')} |"
            )
        many = self.steps.get("train_many", {}).get("aggregate_seconds_per_architecture_epoch")
        if many is not None:
            lines += ["", f"Several at once: {many} s per architecture-epoch in aggregate (wall / architectures)."]
        path = self.out / "gpu_report.md"
        path.write_text("\n".join(lines) + "\n")
        return path


def _per_cell(folder: Path) -> dict:
    """Cells in the store and their mean recorded seconds (the measured work, without start-up)."""
    try:
        _, records = load_records(folder)
    except (LookupError, OSError, ValueError):
        return {}
    walls = [r["timings"]["wall"] for r in records if "wall" in r["timings"]]
    training = [r["timings"]["total"] for r in records if "total" in r["timings"]]  # the trainer's own clock
    done = {"cells": len(records), "ok": sum(r["status"] == "ok" for r in records)}
    if walls:
        done["seconds_per_cell"] = round(mean(walls), 3)
    if training:
        done["training_seconds_per_cell"] = round(mean(training), 3)
    return done


def _text(value: str | bytes | None) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value or ""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path, help="folder for the report and the stores (the same folder resumes)")
    p.add_argument("--dry-run", action="store_true", help="every step on tiny CPU settings, in seconds")
    args = p.parse_args()
    if not args.dry_run and not torch.cuda.is_available():
        raise SystemExit(f"torch {torch.__version__} sees no CUDA GPU; on a CPU use --dry-run")
    args.out.mkdir(parents=True, exist_ok=True)
    check = Check(args.out, DRY if args.dry_run else GPU)
    check.all()
    print(check.report().read_text())


if __name__ == "__main__":
    main()
