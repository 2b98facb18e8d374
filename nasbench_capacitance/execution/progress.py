"""A progress line for long mappings: a bar with rate and ETA on a terminal, sparse lines in a log."""

from __future__ import annotations

import math
import time
from typing import TextIO


class Progress:
    """A one-line progress bar with rate and ETA on a terminal; otherwise a line per item, or per
    ``every`` seconds at most when items are many and quick (a whole-space scoring)."""

    def __init__(self, total: int, done: int, stream: TextIO, unit: str = "arch", every: float = 0.0):
        self.total, self.done, self.stream, self.unit, self.every = total, done, stream, unit, every
        self.new, self.start, self.last = 0, time.perf_counter(), -math.inf
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def update(self, key: object, status: str) -> None:
        """One more item finished: ``key`` names it (an index, a seed), ``status`` says how it ended."""
        self.done += 1
        self.new += 1
        now = time.perf_counter()
        finished = self.done == self.total
        if not self.tty and now - self.last < self.every and not finished:
            return
        self.last = now
        rate = (now - self.start) / self.new
        eta = rate * (self.total - self.done)
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        bar = "#" * filled + "." * (width - filled)
        line = (
            f"[{bar}] {self.done}/{self.total}  {rate:5.2f} s/{self.unit}  ETA {int(eta // 3600)}h"
            f"{int(eta % 3600 // 60):02d}m{int(eta % 60):02d}s  {self.unit} {key}: {status}"
        )
        if self.tty:
            self.stream.write("\r" + line[:99].ljust(99))
            if finished:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
