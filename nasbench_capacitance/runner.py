"""Map :func:`evaluate_architecture` over a sample: in this process or in a process pool.

Results are written by this process alone, one transaction per architecture, so an interrupted run
(Ctrl-C, a killed process) resumes by running the same command again: finished architectures are
skipped, none is lost or stored twice.
"""

from __future__ import annotations

import copy
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, TextIO

import torch

from . import space
from .evaluate import evaluate_architecture, prepare_data, provenance, resolve_device
from .store import ResultStore

DB_NAME = "results.db"


def sample(cfg: dict) -> list[int]:
    s = cfg["sample"]
    if s["indices"]:
        return [space.Arch.parse(i).index for i in s["indices"]]
    return space.sample_indices(s["archs"], seed=cfg["run"]["seed"], unique=s["unique"])


def run_identity(cfg: dict) -> dict:
    """The part of the config that defines the results; how many workers ran them does not."""
    identity = copy.deepcopy(cfg)
    identity["run"].pop("workers", None)
    return identity


class Progress:
    """A one-line progress bar with rate and ETA on a terminal; one line per architecture otherwise."""

    def __init__(self, total: int, done: int, stream: TextIO):
        self.total, self.done, self.stream = total, done, stream
        self.new, self.start = 0, time.perf_counter()
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def update(self, record: dict) -> None:
        self.done += 1
        self.new += 1
        elapsed = time.perf_counter() - self.start
        rate = elapsed / self.new
        eta = rate * (self.total - self.done)
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        bar = "#" * filled + "." * (width - filled)
        line = (f"[{bar}] {self.done}/{self.total}  {rate:5.1f} s/arch  ETA {int(eta // 60)}m{int(eta % 60):02d}s  "
                f"arch {record['index']}: {record['status']}")
        if self.tty:
            self.stream.write("\r" + line[:99].ljust(99))
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


_WORKER_STATE: dict = {}


def _init_worker(cfg: dict, threads: int) -> None:
    torch.set_num_threads(threads)
    device = resolve_device(cfg["run"]["device"])
    _WORKER_STATE["cfg"], _WORKER_STATE["data"] = cfg, prepare_data(cfg, device)


def _evaluate_in_worker(index: int) -> dict:
    return evaluate_architecture(index, _WORKER_STATE["cfg"], _WORKER_STATE["data"])


def run_study(cfg: dict, out_dir: str | os.PathLike, stream: TextIO | None = None,
              on_record: Callable[[dict], None] | None = None) -> Path:
    """Evaluate the configured sample into ``out_dir/results.db``, resuming whatever is already there.

    Progress goes to ``stream`` (default: the current ``sys.stderr``).
    """
    stream = stream if stream is not None else sys.stderr
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg["run"]["device"])
    indices = sample(cfg)
    workers = cfg["run"]["workers"]
    with ResultStore(out / DB_NAME) as store:
        run_id = store.start_run(run_identity(cfg), provenance(cfg, device))
        done = store.done(run_id)
        todo = [i for i in indices if i not in done]
        progress = Progress(len(indices), len(indices) - len(todo), stream)
        if done:
            stream.write(f"resuming: {len(indices) - len(todo)} of {len(indices)} architectures already in {out / DB_NAME}\n")

        def write(record: dict) -> None:
            store.add_record(run_id, record)
            progress.update(record)
            if on_record:
                on_record(record)

        if not todo:
            return out
        if workers == 1 or len(todo) == 1:
            data = prepare_data(cfg, device)
            for index in todo:
                write(evaluate_architecture(index, cfg, data))
        else:
            threads = max(1, (os.cpu_count() or 1) // workers)
            context = multiprocessing.get_context("spawn")  # no forked torch state
            with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(cfg, threads)) as pool:
                futures = [pool.submit(_evaluate_in_worker, index) for index in todo]
                for future in as_completed(futures):
                    write(future.result())
    return out
