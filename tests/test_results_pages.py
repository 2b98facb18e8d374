"""docs/results/ pages match the committed summaries they are rendered from."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_results_page_matches_its_summaries():
    done = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "results_pages.py"), "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
