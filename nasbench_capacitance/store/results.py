"""SQLite results store, one file per study: runs and one row per architecture record.

A *run* is a configuration plus provenance; starting a run with a configuration already in the file
returns the existing run, so resuming is "start the same run, skip :meth:`ResultStore.done`". Each
record is written in one transaction and the (run, architecture) pair is unique, so an interrupted
writer never leaves half a record and a record is never stored twice.

A record is a plain dict: ``index``, ``arch_str``, ``status`` ("ok", "diverged", "failed"...),
``reason``, ``metrics`` ({metric: {epoch: value}}), ``timings`` ({phase: seconds}) and optional
``extra`` (anything JSON-serialisable).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..outputs import to_json
from .records import Record

DB_NAME = "results.db"  # a study's or a whole-space scoring's store, inside its folder
SEARCH_DB = "search.db"  # a search study's store, inside its folder
KIND_NAMES = {  # what a folder's store holds, by kind, as messages name it
    "study": "a study (nbcap run, or a Scorer's store)",
    "space": "a whole-space scoring (nbcap space)",
    "search": "a search (nbcap search)",
    "mixed": "the stores of several kinds of job",
}
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY,
    config_hash TEXT NOT NULL UNIQUE,
    config TEXT NOT NULL,
    provenance TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS report_settings (
    run_id INTEGER PRIMARY KEY REFERENCES runs(run_id),
    settings TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    arch_index INTEGER NOT NULL,
    arch_str TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    metrics TEXT NOT NULL,
    timings TEXT NOT NULL,
    extra TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (run_id, arch_index)
);
"""


def config_hash(config: dict) -> str:
    return hashlib.sha256(to_json(config, sort_keys=True).encode()).hexdigest()


class StoreError(RuntimeError):
    """A results store that cannot be opened as one: damaged, foreign or unwritable; never overwritten."""


@contextlib.contextmanager
def exclusive_writer(path: str | os.PathLike) -> Iterator[None]:
    """Hold the study's write lock (an OS lock on ``<store>.lock``, released when its holder exits or dies).

    A second writer is refused with the holder's process id; readers (``nbcap report``) never take it.
    """
    lock = Path(str(path) + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise StoreError(
                f"{path} is being written by another nbcap process (pid {holder}); wait for it to finish or "
                "stop it (a stopped or killed run never blocks the next one), then run this command again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def open_store(path: Path, schema: str, kind: str) -> sqlite3.Connection:
    """An SQLite store with ``schema``, in WAL mode; a file that is not one is named and left as it is."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=60)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        with conn:
            conn.executescript(schema)
        return conn
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"{path} is not a {kind} store this tool can open ({exc}): it is damaged, foreign or on a "
            "read-only filesystem; it was left as it is. Move it away, or use another folder"
        ) from None
    except OSError as exc:
        raise StoreError(f"cannot create {path.parent} ({exc.strerror}): choose a writable --out") from None


class ResultStore:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._conn = open_store(self.path, SCHEMA, "results")

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def start_run(self, config: dict, provenance: dict) -> int:
        """The run id for ``config``: the existing one (resume) or a new one."""
        digest = config_hash(config)
        with self._conn:
            self._conn.execute(
                "INSERT OR IGNORE INTO runs (config_hash, config, provenance, created) VALUES (?, ?, ?, ?)",
                (digest, to_json(config, sort_keys=True), to_json(provenance, sort_keys=True), time.time()),
            )
        return int(self._conn.execute("SELECT run_id FROM runs WHERE config_hash = ?", (digest,)).fetchone()[0])

    def find_run(self, config: dict) -> int | None:
        """The run id for ``config`` if the store has one; writes nothing (for readers)."""
        row = self._conn.execute("SELECT run_id FROM runs WHERE config_hash = ?", (config_hash(config),)).fetchone()
        return None if row is None else int(row[0])

    def runs(self) -> list[dict]:
        rows = self._conn.execute("SELECT run_id, config, provenance, created FROM runs ORDER BY run_id").fetchall()
        return [
            {"run_id": r[0], "config": json.loads(r[1]), "provenance": json.loads(r[2]), "created": r[3]} for r in rows
        ]

    def save_report_settings(self, run_id: int, settings: dict) -> None:
        """The evaluation settings (ground truth, statistics) the run's report uses; the latest run wins."""
        with self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO report_settings (run_id, settings) VALUES (?, ?)",
                (run_id, to_json(settings, sort_keys=True)),
            )

    def report_settings(self, run_id: int) -> dict:
        """What :meth:`save_report_settings` stored for the run (empty for studies made before it existed)."""
        row = self._conn.execute("SELECT settings FROM report_settings WHERE run_id = ?", (run_id,)).fetchone()
        return json.loads(row[0]) if row else {}

    def add_record(self, run_id: int, record: Record | dict) -> bool:
        """Store one architecture's record atomically; False (and nothing written) if it is already there."""
        with self._conn:
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO records (run_id, arch_index, arch_str, status, reason, metrics, timings, extra,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    int(record["index"]),
                    record["arch_str"],
                    record["status"],
                    record.get("reason"),
                    to_json(record.get("metrics", {}), sort_keys=True),
                    to_json(record.get("timings", {}), sort_keys=True),
                    to_json(record.get("extra", {}), sort_keys=True),
                    time.time(),
                ),
            )
        return cursor.rowcount == 1

    def done(self, run_id: int) -> set[int]:
        """Indices already recorded for the run (whatever their status): skip these when resuming."""
        return {r[0] for r in self._conn.execute("SELECT arch_index FROM records WHERE run_id = ?", (run_id,))}

    def records(self, run_id: int) -> list[Record]:
        rows = self._conn.execute(
            "SELECT arch_index, arch_str, status, reason, metrics, timings, extra FROM records WHERE run_id = ?"
            " ORDER BY arch_index",
            (run_id,),
        ).fetchall()
        return [
            Record(r[0], r[1], r[2], r[3], _floats(json.loads(r[4])), json.loads(r[5]), json.loads(r[6])) for r in rows
        ]

    def export_csv(self, run_id: int, path: str | os.PathLike) -> Path:
        """One row per architecture; metric columns ``<metric>@<epoch>``, timing columns ``time_<phase>``."""
        records = self.records(run_id)
        metric_cols = sorted(
            {f"{m}@{e}" for r in records for m, by_epoch in r["metrics"].items() for e in by_epoch},
            key=_metric_sort_key,
        )
        timing_cols = sorted({p for r in records for p in r["timings"]})
        path = Path(path)
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(
                ["index", "arch_str", "status", "reason", *metric_cols, *(f"time_{p}" for p in timing_cols)]
            )
            for r in records:
                values = [_lookup(r["metrics"], col) for col in metric_cols]
                writer.writerow(
                    [
                        r["index"],
                        r["arch_str"],
                        r["status"],
                        r["reason"] or "",
                        *("" if v is None or v != v else v for v in values),
                        *(r["timings"].get(p, "") for p in timing_cols),
                    ]
                )
        return path


def _floats(metrics: dict) -> dict:
    return {m: {e: (float("nan") if v is None else v) for e, v in by_epoch.items()} for m, by_epoch in metrics.items()}


def _lookup(metrics: dict, column: str) -> Any:
    name, _, epoch = column.rpartition("@")
    return metrics.get(name, {}).get(epoch)


def _metric_sort_key(column: str) -> tuple:
    name, _, epoch = column.rpartition("@")
    try:
        return (name, float(epoch), epoch)
    except ValueError:
        return (name, math.inf, epoch)


def folder_kind(folder: str | os.PathLike) -> str | None:
    """What job a folder's store belongs to: ``study``, ``space``, ``search``, ``mixed``; None when it has none."""
    from .identity import kind_of

    folder = Path(folder)
    kinds = {"search"} if (folder / SEARCH_DB).is_file() else set()
    if (folder / DB_NAME).is_file():
        with ResultStore(folder / DB_NAME) as store:  # a damaged store is named here
            kinds |= {kind_of(run["config"]) for run in store.runs()}
    return None if not kinds else kinds.pop() if len(kinds) == 1 else "mixed"


def check_folder(folder: str | os.PathLike, kind: str, fix: str) -> None:
    """Refuse, before any work, a folder whose store belongs to another kind of job (see :data:`KIND_NAMES`).

    ``fix`` completes the message (``"choose another --out"``). Nothing is written.
    """
    found = folder_kind(folder)
    if found is not None and found != kind:
        raise StoreError(f"{folder} holds {KIND_NAMES[found]}, not {KIND_NAMES[kind]}; it was left as it is: {fix}")


def check_study(folder: str | os.PathLike, identity: dict, new_run: bool, fix: str | None) -> None:
    """Refuse a study folder that holds a study of another configuration, unless ``new_run`` says to add one.

    ``fix`` names the way to add one (``"add --new-run"``; None: there is none); the message names the keys
    that differ.
    """
    check_folder(folder, "study", f"choose another folder for {KIND_NAMES['study']}")
    db = Path(folder) / DB_NAME
    if new_run or not db.is_file():
        return
    with ResultStore(db) as store:
        runs = store.runs()
    if not runs or any(run["config"] == identity for run in runs):
        return
    stored = runs[-1]["config"]
    differs = [
        f"{section}.{key}: {stored.get(section, {}).get(key)!r} -> {identity.get(section, {}).get(key)!r}"
        for section in sorted(set(stored) | set(identity))
        for key in sorted(set(stored.get(section, {})) | set(identity.get(section, {})))
        if stored.get(section, {}).get(key) != identity.get(section, {}).get(key)
    ]
    both = f", or {fix} to keep both studies in it (a report then shows the latest and names the others)" if fix else ""
    raise StoreError(
        f"{folder} holds a study of another configuration (differs in {'; '.join(differs)}); use another folder{both}"
    )


def results_file(path: str | os.PathLike) -> Path:
    """The store of a study folder (``DIR/results.db``); a path that names the file already passes through."""
    path = Path(path)
    return path / DB_NAME if path.is_dir() or path.suffix != ".db" else path


@dataclass
class RunLedger:
    """One run of a store as a resumable job sees it: which cells are done, and how to add one."""

    store: ResultStore
    run_id: int

    def done(self) -> set[int]:
        return self.store.done(self.run_id)

    def add(self, record: Record) -> tuple[int, str]:
        self.store.add_record(self.run_id, record)
        return record["index"], record["status"]


def load_records(path: str | os.PathLike, run_id: int | None = None) -> tuple[dict, list[Record]]:
    """(run, records) of a study (its folder or its ``results.db``); the latest run unless ``run_id`` is given."""
    path = results_file(path)
    if not path.is_file():
        raise FileNotFoundError(f"no results store at {path}")
    with ResultStore(path) as store:
        runs: Iterable[dict] = store.runs()
        runs = [r for r in runs if run_id is None or r["run_id"] == run_id]
        if not runs:
            raise LookupError(f"no run{'' if run_id is None else f' {run_id}'} in {path}")
        return runs[-1], store.records(runs[-1]["run_id"])
