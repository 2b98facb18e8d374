"""A study (``nbcap run``): evaluate a configured sample of architectures into ``DIR/results.db``, resumably.

Every architecture is one task (:func:`evaluate_architecture`), mapped here, in a process pool or on
Ray by :func:`execution.runner.execute`; the records are written by this process alone, one
transaction per architecture, so an interrupted study resumes by running the same command again.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

import torch

from ..config import REPORT_SECTIONS, StudyConfig
from ..data.cifar10 import TrainingData
from ..execution.jobs import run_job
from ..execution.runner import execute, planned_threads
from ..nb201 import space
from ..store import identity
from ..store.records import Record
from ..store.results import ResultStore, RunLedger, check_study, results_file
from .evaluate import evaluate_architecture, prepare_data, provenance, resolve_device, study_identity


def sample(cfg: StudyConfig) -> list[int]:
    """The study's architectures: its explicit ``sample.indices``, or a seeded sample of ``sample.archs``."""
    s = cfg.sample
    if s.indices:
        return [space.Arch.parse(i).index for i in s.indices]
    return space.sample_indices(s.archs, seed=cfg.run.seed, unique=s.unique)


_WORKER_DATA: dict[str, TrainingData] = {}  # per worker process: the prepared data of the configuration it serves


def worker_data(cfg: StudyConfig) -> TrainingData:
    """The configuration's training data, prepared once per process and reused by every task it runs."""
    key = identity.prepared_data(cfg)
    if key not in _WORKER_DATA:
        _WORKER_DATA.clear()
        _WORKER_DATA[key] = prepare_data(cfg, resolve_device(cfg.run.device))
    return _WORKER_DATA[key]


def _evaluate_in_worker(index: int, cfg: StudyConfig, threads: int) -> list[Record]:
    """One architecture in a pool or Ray worker process."""
    torch.set_num_threads(threads)
    return [evaluate_architecture(index, cfg, worker_data(cfg))]


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
    new_run: bool = False,
) -> Path:
    """Evaluate the configured sample into ``out_dir/results.db``, resuming whatever is already there.

    A folder that holds a whole-space scoring, a search or a study of another configuration is refused
    before any work, unless ``new_run`` adds this study beside the other one. Progress goes to
    ``stream`` (default: the current ``sys.stderr``).
    """
    stream = stream if stream is not None else sys.stderr
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.run.device)
    study, indices = study_identity(cfg), sample(cfg)
    check_study(out, study, new_run, "pass new_run=True (nbcap run --new-run)")

    @contextlib.contextmanager
    def ledger(path: Path) -> Iterator[RunLedger]:
        with ResultStore(path) as store:
            run_id = store.start_run(study, provenance(cfg, device))
            store.save_report_settings(run_id, {section: cfg.as_dict()[section] for section in REPORT_SECTIONS})
            done = store.done(run_id)
            if done and not set(indices) <= done:
                _warn_if_threads_change(store.records(run_id), cfg, stream)
            yield RunLedger(store, run_id)

    def compute(todo: list[int], write: Callable[[Record], None]) -> None:
        run_cfg = (
            cfg.updated({"run": {"workers": 1}}, "one architecture") if len(todo) == 1 and not cfg.run.ray else cfg
        )

        def keep(record: Record) -> None:
            write(record)
            if on_record:
                on_record(record)

        execute(_evaluate_in_worker, todo, run_cfg, keep, stream)

    run_job(results_file(out), ledger, indices, lambda index: index, compute, stream, unit="architecture")
    return out
