"""Helpers shared by the tests that drive the command line in a subprocess."""

import signal
import sqlite3
import subprocess
import time
from pathlib import Path


def count_records(db: Path, table: str = "records") -> int:
    """Rows in a study's ``records`` (or a search store's ``searches``); 0 before the table exists."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def start_until(cmd: list[str], db: Path, after: int, timeout: float = 120, table: str = "records") -> subprocess.Popen:
    """Start ``cmd`` and return once ``db`` holds at least ``after`` rows (or it ended, or time ran out)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + timeout
    while count_records(db, table) < after and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    return proc


def kill_midway(cmd: list[str], db: Path, after: int, timeout: float = 120, table: str = "records") -> int:
    """Start ``cmd``, SIGKILL it once ``db`` holds at least ``after`` rows; how many it held then."""
    proc = start_until(cmd, db, after, timeout, table)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return count_records(db, table)


def records_per_index(db: Path) -> dict[int, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT arch_index, COUNT(*) FROM records GROUP BY arch_index").fetchall())
