"""Map :func:`evaluate_architecture` over a sample: in this process, in a process pool, or on a Ray cluster.

Results are written by this process alone, one transaction per architecture, so an interrupted run
(Ctrl-C, a killed process) resumes by running the same command again: finished architectures are
skipped, none is lost or stored twice.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, TextIO

import torch

from .. import paths
from ..config import REPORT_SECTIONS, StudyConfig
from ..data.cifar10 import TrainingData
from ..nb201 import space
from ..store.records import Record
from ..store.results import ResultStore, exclusive_writer
from ..study.evaluate import evaluate_architecture, prepare_data, provenance, resolve_device
from .progress import Progress

DB_NAME = "results.db"
EXECUTION_KEYS = ("workers", "threads", "ray", "ray_cpus", "ray_gpus")  # how a study runs, not what it computes


def sample(cfg: StudyConfig) -> list[int]:
    s = cfg.sample
    if s.indices:
        return [space.Arch.parse(i).index for i in s.indices]
    return space.sample_indices(s.archs, seed=cfg.run.seed, unique=s.unique)


# Keys added after studies were stored, with the value that reproduces what those studies computed:
# left out of an identity when they hold it, so older studies resume; filled in when one is read back.
# Keys added after studies were stored, with the value those studies computed with: an identity holding
# it leaves the key out (old studies resume), and a stored identity without the key reads it back.
# probe_input's default has since become "batch"; an identity with "batch" names the key, so a study made
# before the change is never resumed with the new probe input.
LEGACY_VALUES = {("train", "probe_input"): "eval", ("train", "precision"): "fp32"}


def run_identity(cfg: StudyConfig) -> dict:
    """The part of the config that defines the records: not how they were computed (workers, Ray), nor how
    they are evaluated (ground truth, statistics), so changing either resumes the same run."""
    identity = {section: values for section, values in cfg.as_dict().items() if section not in REPORT_SECTIONS}
    for key in EXECUTION_KEYS:
        identity["run"].pop(key, None)
    for (section, key), value in LEGACY_VALUES.items():
        if identity[section].get(key) == value:
            del identity[section][key]
    return identity


def config_of_identity(identity: dict, origin: str) -> StudyConfig:
    """The configuration a stored identity was made with (keys added since take their legacy values)."""
    values = {section: dict(keys) for section, keys in identity.items()}
    for (section, key), value in LEGACY_VALUES.items():
        values.setdefault(section, {}).setdefault(key, value)
    return StudyConfig.from_dict(values, origin)


_WORKER_DATA: dict[str, TrainingData] = {}  # per worker process: the prepared data of the configuration it serves


def worker_data(cfg: StudyConfig) -> TrainingData:
    """The configuration's training data, prepared once per process and reused by every task it runs."""
    key = json.dumps([cfg.as_dict()["data"], cfg.run.device, cfg.run.seed, cfg.train.channels_last], sort_keys=True)
    if key not in _WORKER_DATA:
        _WORKER_DATA.clear()
        _WORKER_DATA[key] = prepare_data(cfg, resolve_device(cfg.run.device))
    return _WORKER_DATA[key]


def threads_per_worker(cfg: StudyConfig) -> int:
    """``run.threads``, or the cores shared out among the workers (oversubscribed OpenMP slows everything)."""
    return cfg.run.threads or max(1, (os.cpu_count() or 1) // cfg.run.workers)


def _evaluate_in_worker(index: int, cfg: StudyConfig, threads: int) -> list[Record]:
    """One architecture in a pool or Ray worker process."""
    torch.set_num_threads(threads)
    return [evaluate_architecture(index, cfg, worker_data(cfg))]


Task = Callable[[Any, StudyConfig, int], list[Record]]  # (task, cfg, torch threads) -> records, run in a worker


def execute(
    function: Task,
    tasks: Iterable[Any],
    cfg: StudyConfig,
    write: Callable[[Record], None],
    stream: TextIO,
    in_flight: int = 0,
) -> None:
    """Run ``function`` over ``tasks`` here, in a process pool (``run.workers``) or on Ray (``run.ray``),
    handing every record to ``write`` in this process, the only writer.

    At most ``in_flight`` tasks (default: twice the workers) are submitted at a time, so a long stream
    of tasks (the whole space) never sits in memory at once.
    """
    if cfg.run.ray:
        _map_on_ray(function, tasks, cfg, write, stream, in_flight)
    elif cfg.run.workers == 1:
        threads = cfg.run.threads or torch.get_num_threads()
        for task in tasks:
            for record in function(task, cfg, threads):
                write(record)
    else:
        _map_in_pool(function, tasks, cfg, write, in_flight)


def _bounded(
    submit: Callable[[Any], Any], wait_one: Callable[[set], tuple[Any, set]], tasks: Iterable[Any], limit: int
) -> Iterator[Any]:
    """Submit ``tasks`` keeping at most ``limit`` pending; yield each finished handle as it completes."""
    pending: set = set()
    for task in tasks:
        pending.add(submit(task))
        while len(pending) >= limit:
            done, pending = wait_one(pending)
            yield done
    while pending:
        done, pending = wait_one(pending)
        yield done


def _map_in_pool(
    function: Task, tasks: Iterable[Any], cfg: StudyConfig, write: Callable[[Record], None], in_flight: int
) -> None:
    workers = cfg.run.workers
    threads = threads_per_worker(cfg)
    context = multiprocessing.get_context("spawn")  # no forked torch state

    def wait_one(pending: set) -> tuple[Any, set]:
        done, rest = wait(pending, return_when=FIRST_COMPLETED)
        first = next(iter(done))
        return first, rest | (done - {first})

    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        for future in _bounded(
            lambda t: pool.submit(function, t, cfg, threads), wait_one, tasks, in_flight or 2 * workers
        ):
            for record in future.result():
                write(record)


def _on_ray_node(function: Task, task: Any, cfg: StudyConfig, threads: int) -> list[Record]:
    """``function`` in a Ray worker; each record notes the node that computed it."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    records = function(task, cfg, threads)
    for record in records:
        record["extra"]["ray_node"] = node
    return records


def _map_on_ray(
    function: Task,
    tasks: Iterable[Any],
    cfg: StudyConfig,
    write: Callable[[Record], None],
    stream: TextIO,
    in_flight: int,
) -> None:
    """Tasks on Ray (``run.ray_cpus`` CPUs and ``run.ray_gpus`` GPUs each); this process writes.

    A task lost with its node is reported and not recorded, so running the same command again retries it.
    """
    try:
        import ray
    except ImportError:
        raise RuntimeError("run.ray needs Ray: pip install 'nasbench_capacitance[ray]' (or pip install ray)") from None
    address = cfg.run.ray
    env = {k: os.environ[k] for k in (paths.DATA_ENV, paths.CACHE_ENV) if k in os.environ}
    started_here = address == "local"
    try:
        ray.init(
            address=None if started_here else address,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": env} if env else None,
            num_cpus=os.cpu_count() if started_here else None,
        )
    except ConnectionError as exc:
        raise RuntimeError(
            f"no Ray cluster at {address!r} ({exc}); start one with `ray start --head`, "
            "or use --ray local to start Ray on this machine only"
        ) from None
    run = cfg.run
    remote = ray.remote(num_cpus=run.ray_cpus, num_gpus=run.ray_gpus)(_on_ray_node)
    threads = run.threads or max(1, int(run.ray_cpus))
    slots = max(1, int(ray.cluster_resources().get("CPU", 1) // run.ray_cpus))

    def wait_one(pending: set) -> tuple[Any, set]:
        done, rest = ray.wait(list(pending), num_returns=1)
        return done[0], set(rest)

    submitted: set = set()

    def submit(task: Any) -> Any:
        ref = remote.remote(function, task, cfg, threads)
        submitted.add(ref)
        return ref

    try:
        for ref in _bounded(submit, wait_one, tasks, in_flight or 2 * slots):
            submitted.discard(ref)
            try:
                records = ray.get(ref)
            except ray.exceptions.RayError as exc:
                stream.write(f"a Ray task was lost ({type(exc).__name__}); run the same command again to retry it\n")
                continue
            for record in records:
                write(record)
    finally:
        for ref in submitted:
            ray.cancel(ref)
        if started_here:
            ray.shutdown()


def planned_threads(cfg: StudyConfig) -> int:
    """The torch threads each architecture of this run will get."""
    if cfg.run.threads:
        return cfg.run.threads
    if cfg.run.ray:
        return max(1, int(cfg.run.ray_cpus))
    return torch.get_num_threads() if cfg.run.workers == 1 else threads_per_worker(cfg)


def _warn_if_threads_change(records: list[Record], cfg: StudyConfig, stream: TextIO) -> None:
    """Say so when a resume would mix thread counts: records stay valid, but not bit-identical."""
    stored = sorted({r["extra"]["threads"] for r in records if "threads" in r["extra"]})
    planned = planned_threads(cfg)
    if stored and stored != [planned]:
        stream.write(
            f"note: the stored records used {'/'.join(map(str, stored))} torch thread(s) per architecture, this run "
            f"uses {planned}: scores may differ in the 4th-5th significant digit; --set run.threads={stored[0]} "
            "keeps the study bit-identical\n"
        )


def run_study(
    cfg: StudyConfig,
    out_dir: str | os.PathLike,
    stream: TextIO | None = None,
    on_record: Callable[[Record], None] | None = None,
) -> Path:
    """Evaluate the configured sample into ``out_dir/results.db``, resuming whatever is already there.

    Progress goes to ``stream`` (default: the current ``sys.stderr``).
    """
    stream = stream if stream is not None else sys.stderr
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.run.device)
    indices = sample(cfg)
    with exclusive_writer(out / DB_NAME), ResultStore(out / DB_NAME) as store:
        run_id = store.start_run(run_identity(cfg), provenance(cfg, device))
        store.save_report_settings(run_id, {section: cfg.as_dict()[section] for section in REPORT_SECTIONS})
        done = store.done(run_id)
        todo = [i for i in indices if i not in done]
        progress = Progress(len(indices), len(indices) - len(todo), stream)
        if done:
            stream.write(
                f"resuming: {len(indices) - len(todo)} of {len(indices)} architectures already in {out / DB_NAME}\n"
            )

        def write(record: Record) -> None:
            store.add_record(run_id, record)
            progress.update(record)
            if on_record:
                on_record(record)

        if not todo:
            return out
        if len(todo) == 1 and not cfg.run.ray:
            cfg = cfg.updated({"run": {"workers": 1}}, "one architecture")
        if done:
            _warn_if_threads_change(store.records(run_id), cfg, stream)
        execute(_evaluate_in_worker, todo, cfg, write, stream)
    return out
