"""One skeleton for every resumable job (``nbcap run``, ``space``, ``search``): lock, resume, write, report.

A job is a list of items (architectures, cells, seeded searches) and a *ledger*: the part of a store
that says which items are done and writes a finished one, one transaction each. The job takes the
store's write lock, skips what the ledger holds, says so, and hands the rest to ``compute``, which
calls ``write`` for every result, in this process, the only writer. A killed job therefore loses at
most the items in flight, and the same command resumes it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Container, Hashable, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

from ..store.results import exclusive_writer
from .progress import Progress


class Ledger(Protocol):
    def done(self) -> Container[Any]:
        """The keys of the items already stored."""
        ...

    def add(self, result: Any) -> tuple[Hashable, str]:
        """Store one finished item; its key and a short status for the progress line."""
        ...


def run_job(
    store: str | os.PathLike,
    open_ledger: Callable[[Path], contextlib.AbstractContextManager[Ledger]],
    items: Sequence[Any],
    key: Callable[[Any], Hashable],
    compute: Callable[[list[Any], Callable[[Any], None]], None],
    stream: TextIO,
    unit: str,
    every: float = 0.0,
    units: str = "",
) -> int:
    """Run the ``items`` the ledger lacks; returns how many were left to do. See the module docstring.

    ``key`` names an item as the ledger's ``done`` does; ``unit``/``units`` name items in messages.
    """
    path = Path(store)
    with exclusive_writer(path), open_ledger(path) as ledger:
        done = ledger.done()
        todo = [item for item in items if key(item) not in done]
        if len(todo) < len(items):
            stream.write(
                f"resuming: {len(items) - len(todo)} of {len(items)} {units or unit + 's'} already in {path}\n"
            )
        progress = Progress(len(items), len(items) - len(todo), stream, unit=unit, every=every)

        def write(result: Any) -> None:
            progress.update(*ledger.add(result))

        if todo:
            compute(todo, write)
        return len(todo)
