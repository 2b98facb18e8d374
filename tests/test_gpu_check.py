"""The GPU check's dry run: every step on tiny CPU settings, so the script that a GPU machine runs
in one command cannot rot between the sessions that have a GPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow  # six commands, a minute or two: make test-all (CI) runs it
def test_the_gpu_check_runs_every_step_and_writes_its_report(tmp_path):
    out = tmp_path / "gpu"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHON": sys.executable}
    done = subprocess.run(
        [str(ROOT / "scripts" / "gpu_check.sh"), "--dry-run", str(out)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "gpu_report.json").read_text())
    steps = report["steps"]
    assert list(steps) == ["tests", "smoke", "train_one", "train_many", "space", "paper"]
    assert all(s["status"] == "ok" for s in steps.values()), {k: s["output_tail"] for k, s in steps.items()}
    assert steps["space"]["cells"] == 4 and steps["space"]["seconds_per_cell"] > 0
    assert steps["train_one"]["training_seconds_per_cell"] > 0 and steps["paper"]["ok"] == 2
    assert (out / "space" / "results.db").is_file() and (out / "paper" / "results.db").is_file()
    assert "| space |" in (out / "gpu_report.md").read_text()
