"""Score every NB201 cell (or a range) with the training-free metrics, resumably, into one store.

The work is streamed in small tasks of cells (no list of networks is ever held), mapped in this
process, a process pool or on Ray by :func:`runner.execute`, and written by this process alone, one
transaction per cell, so a killed scoring resumes where it stopped. With ``iso_copy`` one cell per
isomorphism class (its lowest index) is scored for the metrics whose value depends only on the
function a cell computes, and the other members of its class get a copy; the metrics that see dead
edges (parameter count, FLOPs, l2_norm, nwot, zen) are scored for every cell.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import torch

from .. import metrics
from ..config import StudyConfig
from ..execution.jobs import run_job
from ..execution.runner import execute
from ..metrics import plugins
from ..nb201 import space
from ..store import identity
from ..store.records import Record
from ..store.results import ResultStore, RunLedger, check_folder, results_file
from ..study.evaluate import evaluate_architecture, provenance, resolve_device
from ..study.run import worker_data

CELLS_PER_TASK = 16
PREFIX_LIMIT = 1365  # random.sample draws one by one up to here (its set method); above it, another order


class SpaceError(ValueError):
    """A whole-space scoring the user asked for cannot run as given; the message says how to fix it."""


def training_free_metrics(names: Iterable[str] | None = None) -> list[str]:
    """The metrics a whole-space scoring computes (default: every ``arch`` and ``init`` metric), checked."""
    free = metrics.available("arch") + metrics.available("init")
    if names is None:
        return free
    chosen = metrics.check_names(n.strip() for n in names if n.strip())
    if not chosen:
        raise SpaceError(f"--metrics names no metric; choose from {', '.join(free)}")
    for name in chosen:
        metric = metrics.get(name)  # unknown names: one message listing every metric
        if metric.aggregate is not None:
            raise SpaceError(
                f"{name} ranks {', '.join(metric.aggregate.components)} over the cells scored together: score "
                "those, and the report (space.csv) adds it"
            )
        if metric.kind not in ("arch", "init"):
            raise SpaceError(
                f"{name} needs training ({metric.kind} metric); nbcap space scores training-free metrics "
                f"only: {', '.join(free)}. Score trained metrics on a sample with nbcap run"
            )
    return chosen


def iso_invariant(name: str) -> bool:
    """Whether cells of one isomorphism class share the metric's value (in distribution over initialisations)."""
    proxy = metrics.get(name).proxy
    return proxy is not None and proxy.iso_invariant


def parse_indices(text: str | None) -> range:
    """``START:STOP`` (either may be empty) as a range of official indices within 0..15,624."""
    if not text:
        return range(space.NUM_ARCHS)
    start, sep, stop = text.partition(":")
    try:
        first = int(start) if start.strip() else 0
        last = int(stop) if stop.strip() else space.NUM_ARCHS
    except ValueError:
        first = last = -1
    if not sep or first < 0 or last > space.NUM_ARCHS or first >= last:
        raise SpaceError(
            f"--indices takes START:STOP with 0 <= START < STOP <= {space.NUM_ARCHS} (NB201 indices "
            f"0..{space.NUM_ARCHS - 1}, STOP excluded), e.g. 0:1000; got {text!r}"
        )
    return range(first, last)


def parse_sample(text: str) -> list[int]:
    """``N[:SEED]`` as N official indices drawn uniformly without replacement (seed default 0).

    Draws are sequential, so for N up to :data:`PREFIX_LIMIT` the sample of a smaller N with the same
    seed is a prefix of it: a metric too slow for the whole sample can be scored on a prefix.
    """
    count, _, seed = text.partition(":")
    try:
        n, s = int(count), int(seed) if seed.strip() else 0
    except ValueError:
        n = s = -1
    if not 0 < n <= space.NUM_ARCHS or s < 0:
        raise SpaceError(
            f"--sample takes N[:SEED] with 0 < N <= {space.NUM_ARCHS} and SEED >= 0, e.g. 1000:0; got {text!r}"
        )
    return space.sample_indices(n, seed=s)


@functools.lru_cache(maxsize=1)
def representatives() -> np.ndarray:
    """For every official index, the lowest index of its isomorphism class (6,466 distinct values)."""
    first: dict[str, int] = {}
    out = np.empty(space.NUM_ARCHS, dtype=np.int64)
    for index, arch in enumerate(space.all_archs()):
        out[index] = first.setdefault(arch.iso_key, index)
    return out


@dataclass(frozen=True)
class Task:
    """Cells for one worker call; with ``iso_copy`` they come in whole isomorphism classes."""

    indices: tuple[int, ...]
    names: tuple[str, ...]
    iso_copy: bool


def tasks(todo: list[int], names: list[str], iso_copy: bool, size: int = 0) -> Iterator[Task]:
    """``todo`` cut into tasks of about ``size`` cells, lazily; members of a class stay in one task.

    The default size is :data:`CELLS_PER_TASK`, smaller for a short list so that every worker gets some.
    """
    size = size or max(1, min(CELLS_PER_TASK, len(todo) // 8))
    if not iso_copy:
        for start in range(0, len(todo), size):
            yield Task(tuple(todo[start : start + size]), tuple(names), False)
        return
    reps = representatives()
    classes: dict[int, list[int]] = {}
    for index in todo:
        classes.setdefault(int(reps[index]), []).append(index)
    batch: list[int] = []
    for members in classes.values():
        batch.extend(members)
        if len(batch) >= size:
            yield Task(tuple(batch), tuple(names), True)
            batch = []
    if batch:
        yield Task(tuple(batch), tuple(names), True)


def score_cells(task: Task, cfg: StudyConfig, threads: int) -> list[Record]:
    """The records of one task's cells (run in a worker): every metric scored, or copied in its class."""
    torch.set_num_threads(threads)
    data = worker_data(cfg) if any(metrics.get(n).kind == "init" for n in task.names) else None
    if not task.iso_copy:
        return [evaluate_architecture(index, cfg, data, names=list(task.names)) for index in task.indices]
    shared = [n for n in task.names if iso_invariant(n)]
    own = [n for n in task.names if not iso_invariant(n)]
    reps = representatives()
    scored: dict[int, Record] = {}  # representative -> its record (invariant metrics at least)
    records = []
    for index in task.indices:
        rep = int(reps[index])
        if index == rep:
            scored[rep] = evaluate_architecture(index, cfg, data, names=list(task.names))
            records.append(scored[rep])
            continue
        if rep not in scored:
            scored[rep] = evaluate_architecture(rep, cfg, data, names=shared)
        records.append(_with_copies(evaluate_architecture(index, cfg, data, names=own), scored[rep], shared))
    return records


def _with_copies(record: Record, source: Record, names: list[str]) -> Record:
    """``record`` completed with ``names`` copied from its class representative's record ``source``."""
    if not names:
        return record
    for name in names:
        record["metrics"][name] = dict(source["metrics"].get(name, {"0": float("nan")}))
    record["extra"].update({"copied_from": source["index"], "copied": names})
    if source["status"] != "ok" and record["status"] == "ok":
        record["status"], record["reason"] = (
            source["status"],
            f"class representative {source['index']}: {source['reason']}",
        )
    return record


def check_scoring(store: ResultStore, wanted: dict, out: Path) -> None:
    """Refuse a folder that holds another study: its records were computed differently.

    Runs that differ only in their metrics are columns of one scoring (a metric added later, such as a
    new proxy), so a folder grows by metric as well as by range; a metric is scored in one run only.
    """
    runs = store.runs()
    for run in runs:
        if run["config"] == wanted:
            continue
        differs = sorted(k for k in set(wanted) | set(run["config"]) if run["config"].get(k) != wanted.get(k))
        if differs != ["metrics"]:
            kind = run["config"].get("kind", "nbcap run")
            raise SpaceError(
                f"{out} holds a different study ({kind}; differs in: {', '.join(differs)}); "
                "use another --out, or the settings it was started with"
            )
        again = sorted(set(run["config"]["metrics"]) & set(wanted["metrics"]))
        if again:
            scored = {m for r in runs for m in r["config"]["metrics"]}
            lacking = sorted(set(wanted["metrics"]) - scored)
            fix = f"--metrics {','.join(lacking)}" if lacking else "nothing more: it has every metric asked for"
            raise SpaceError(
                f"{out} already scores {', '.join(again)} in another run; ask only for what it lacks ({fix})"
            )


def space_records(path: str | os.PathLike) -> tuple[dict, list[Record]]:
    """(run, records) of a whole-space store, its runs merged cell by cell (one run per metric set).

    A cell's record takes every run's metrics and timings (wall seconds summed); it is not ``ok`` if any
    run failed on it. The run's ``config`` is the runs' common setting with the union of their metrics,
    its ``provenance`` the list of theirs.
    """
    with ResultStore(path) as store:
        runs = [r for r in store.runs() if is_space_study(r)]
        if not runs:
            raise LookupError(f"{path} is not a whole-space scoring (nbcap space); use nbcap report")
        merged: dict[int, Record] = {}
        for run in runs:
            for record in store.records(run["run_id"]):
                if record["index"] in merged:
                    _merge_into(merged[record["index"]], record)
                else:
                    merged[record["index"]] = record
    study = {**runs[0]["config"], "metrics": sorted({m for r in runs for m in r["config"]["metrics"]})}
    run = {"config": study, "provenance": [r["provenance"] for r in runs]}
    return run, [merged[i] for i in sorted(merged)]


def _merge_into(record: Record, other: Record) -> None:
    """``record`` given ``other``'s metrics, timings, copies and failure (the same cell, another run)."""
    wall = record["timings"].get("wall", 0.0) + other["timings"].get("wall", 0.0)
    record["metrics"].update(other["metrics"])
    record["timings"].update(other["timings"])
    record["timings"]["wall"] = wall
    copied = record["extra"].get("copied", []) + other["extra"].get("copied", [])
    record["extra"].update(other["extra"])
    if copied:
        record["extra"]["copied"] = copied
    if record["status"] == "ok" and other["status"] != "ok":
        record["status"], record["reason"] = other["status"], other["reason"]


def score_space(
    cfg: StudyConfig,
    out_dir: str | os.PathLike,
    names: Iterable[str] | None = None,
    indices: Iterable[int] | None = None,
    iso_copy: bool = False,
    stream: TextIO | None = None,
) -> Path:
    """Score ``indices`` (default: all 15,625 cells) with ``names`` into ``out_dir/results.db``; resumes.

    ``cfg`` supplies the network (``model.C``, ``model.N``), the data setting and the proxies' batch,
    the seed, the device and how to run (``run.workers``, ``run.ray``).
    """
    stream = stream if stream is not None else sys.stderr
    chosen = training_free_metrics(names)
    wanted = list(indices) if indices is not None else list(range(space.NUM_ARCHS))
    out = Path(out_dir)
    study = identity.space_scoring(cfg, chosen, iso_copy, plugins.identity(chosen))
    device = resolve_device(cfg.run.device)
    out.mkdir(parents=True, exist_ok=True)
    check_folder(out, "space", "choose another folder for the scoring")

    @contextlib.contextmanager
    def ledger(path: Path) -> Iterator[RunLedger]:
        with ResultStore(path) as store:
            check_scoring(store, study, out)
            yield RunLedger(store, store.start_run(study, provenance(cfg, device)))

    def compute(todo: list[int], write: Callable[[Record], None]) -> None:
        execute(score_cells, tasks(todo, chosen, iso_copy), cfg, write, stream)

    run_job(results_file(out), ledger, wanted, lambda index: index, compute, stream, unit="cell", every=30.0)
    return out


def is_space_study(run: dict) -> bool:
    return identity.kind_of(run["config"]) == identity.SPACE_KIND
