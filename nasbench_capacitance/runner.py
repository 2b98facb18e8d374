"""Map :func:`evaluate_architecture` over a sample: in this process, in a process pool, or on a Ray cluster.

Results are written by this process alone, one transaction per architecture, so an interrupted run
(Ctrl-C, a killed process) resumes by running the same command again: finished architectures are
skipped, none is lost or stored twice.
"""

from __future__ import annotations

import copy
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, TextIO

import torch

from . import paths, space
from .config import REPORT_SECTIONS
from .data import TrainingData
from .evaluate import evaluate_architecture, prepare_data, provenance, resolve_device
from .store import ResultStore

DB_NAME = "results.db"
EXECUTION_KEYS = ("workers", "ray", "ray_cpus", "ray_gpus")  # how a study runs, not what it computes


def sample(cfg: dict) -> list[int]:
    s = cfg["sample"]
    if s["indices"]:
        return [space.Arch.parse(i).index for i in s["indices"]]
    return space.sample_indices(s["archs"], seed=cfg["run"]["seed"], unique=s["unique"])


def run_identity(cfg: dict) -> dict:
    """The part of the config that defines the records: not how they were computed (workers, Ray), nor how
    they are evaluated (ground truth, statistics), so changing either resumes the same run."""
    identity = {section: values for section, values in copy.deepcopy(cfg).items() if section not in REPORT_SECTIONS}
    for key in EXECUTION_KEYS:
        identity["run"].pop(key, None)
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


_WORKER_DATA: dict[str, TrainingData] = {}  # per worker process: the prepared data of the configuration it serves


def _evaluate_in_worker(index: int, cfg: dict, threads: int) -> dict:
    """One architecture in a pool or Ray worker process; data is prepared once per process and reused."""
    torch.set_num_threads(threads)
    key = json.dumps([cfg["data"], cfg["run"]["device"], cfg["run"]["seed"], cfg["train"]["channels_last"]], sort_keys=True)
    if key not in _WORKER_DATA:
        _WORKER_DATA.clear()
        _WORKER_DATA[key] = prepare_data(cfg, resolve_device(cfg["run"]["device"]))
    return evaluate_architecture(index, cfg, _WORKER_DATA[key])


def _map_in_pool(cfg: dict, todo: list[int], write: Callable[[dict], None]) -> None:
    workers = cfg["run"]["workers"]
    threads = max(1, (os.cpu_count() or 1) // workers)  # oversubscribed OpenMP threads slow everything down
    context = multiprocessing.get_context("spawn")  # no forked torch state
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = [pool.submit(_evaluate_in_worker, index, cfg, threads) for index in todo]
        for future in as_completed(futures):
            write(future.result())


def _map_on_ray(cfg: dict, todo: list[int], write: Callable[[dict], None], stream: TextIO) -> None:
    """Architectures as Ray tasks (``run.ray_cpus`` CPUs and ``run.ray_gpus`` GPUs each); this process writes.

    A task lost with its node is reported and not recorded, so running the same command again retries it.
    """
    try:
        import ray
    except ImportError:
        raise RuntimeError("run.ray needs Ray: pip install 'nasbench_capacitance[ray]' (or pip install ray)") from None
    address = cfg["run"]["ray"]
    env = {k: os.environ[k] for k in (paths.DATA_ENV, paths.CACHE_ENV) if k in os.environ}
    started_here = address == "local"
    try:
        ray.init(address=None if started_here else address, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": env} if env else None, num_cpus=os.cpu_count() if started_here else None)
    except ConnectionError as exc:
        raise RuntimeError(f"no Ray cluster at {address!r} ({exc}); start one with `ray start --head`, "
                           "or use --ray local to start Ray on this machine only") from None
    run = cfg["run"]
    task = ray.remote(num_cpus=run["ray_cpus"], num_gpus=run["ray_gpus"])(_evaluate_in_worker)
    pending = [task.remote(index, cfg, max(1, int(run["ray_cpus"]))) for index in todo]
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                write(ray.get(done[0]))
            except ray.exceptions.RayError as exc:
                stream.write(f"a Ray task was lost ({type(exc).__name__}); run the same command again to retry it\n")
    finally:
        for ref in pending:
            ray.cancel(ref)
        if started_here:
            ray.shutdown()


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
        if cfg["run"]["ray"]:
            _map_on_ray(cfg, todo, write, stream)
        elif cfg["run"]["workers"] == 1 or len(todo) == 1:
            data = prepare_data(cfg, device)
            for index in todo:
                write(evaluate_architecture(index, cfg, data))
        else:
            _map_in_pool(cfg, todo, write)
    return out
