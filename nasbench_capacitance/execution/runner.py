"""Map a task function over many items: in this process, in a process pool, or on a Ray cluster.

The driver hands every result to a ``write`` callback in its own process, the one writer of the
store; at most a few tasks are in flight, so a long stream of them (the whole space) never sits in
memory at once. A worker gets ``run.threads`` torch threads, or the cores shared out among the
workers (oversubscribed OpenMP threads slow everything down many times).
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, TextIO

import torch

from .. import paths
from ..config import StudyConfig
from ..metrics import plugins
from ..store.records import Record

WATCH_SECONDS = 1.0  # how often a worker checks that its driver is alive
_WATCHED: set[tuple[str, int]] = set()  # per worker process: the drivers a thread already watches


def threads_per_worker(cfg: StudyConfig) -> int:
    """``run.threads``, or the cores shared out among the workers (oversubscribed OpenMP slows everything)."""
    return cfg.run.threads or max(1, (os.cpu_count() or 1) // cfg.run.workers)


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

    driver = (socket.gethostname(), os.getpid())
    setup = (driver, plugins.loaded())
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=setup)
    try:
        for future in _bounded(
            lambda t: pool.submit(function, t, cfg, threads), wait_one, tasks, in_flight or 2 * workers
        ):
            for record in future.result():
                write(record)
    except BaseException:
        _stop_now(pool)
        raise
    pool.shutdown(wait=True)


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """Ctrl-C, a kill or an error: drop the queued tasks and end the running ones at once instead of waiting
    for them (what was written stays; a resumed run redoes the rest)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public way before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)  # (which forgets the processes)
    for process in processes:
        process.terminate()


def exit_with_driver(host: str, pid: int) -> None:
    """In a worker: exit as soon as the driver that started it is gone (killed: nothing would read its results).

    A thread checks every second whether the driver's process still exists; on another host (a Ray node)
    Ray ends the tasks of a driver whose job died, so there is nothing to check.
    """
    if host != socket.gethostname() or (host, pid) in _WATCHED:
        return
    _WATCHED.add((host, pid))

    def watch() -> None:
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass  # the pid is alive under another user's name
            time.sleep(WATCH_SECONDS)

    threading.Thread(target=watch, name="exit-with-driver", daemon=True).start()


def _start_worker(driver: tuple[str, int], loaded: list[plugins.Plugin]) -> None:
    """A worker's start: it dies with its driver and knows the driver's plug-ins."""
    exit_with_driver(*driver)
    plugins.ensure(loaded)


def _on_ray_node(
    function: Task, task: Any, cfg: StudyConfig, threads: int, driver: tuple[str, int], loaded: list[plugins.Plugin]
) -> list[Record]:
    """``function`` in a Ray worker; each record notes the node that computed it."""
    import ray

    _start_worker(driver, loaded)
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
        ref = remote.remote(function, task, cfg, threads, (socket.gethostname(), os.getpid()), plugins.loaded())
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
