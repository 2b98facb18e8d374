"""Shared fixtures. Data locations come from NBCAP_DATA (the Makefile points it at ../shared)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from nasbench_capacitance import paths  # noqa: E402


@pytest.fixture(scope="session")
def data_root() -> Path:
    return paths.data_root()


@pytest.fixture(scope="session")
def nb201_table(data_root: Path) -> Path:
    path = paths.ground_truth_table(data_root)
    if not path.is_file():
        pytest.fail(f"NB201 table not found at {path}: set NBCAP_DATA to the folder holding nb201/ and cifar10/")
    return path


@pytest.fixture(scope="session")
def cifar_cache(tmp_path_factory):
    """The full CIFAR-10 uint8 cache, built once per session from the data root's JPEG archive."""
    from nasbench_capacitance.data import cifar10

    cache_dir = Path(os.environ.get("NBCAP_CACHE") or tmp_path_factory.mktemp("cache"))
    return cifar10.load_cifar10(cache_dir=cache_dir)


@pytest.fixture
def two_node_ray_cluster(tmp_path):
    """A real Ray cluster of two nodes on this machine (``ray start --head`` and ``ray start --address``)."""
    import os
    import shutil

    ray = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"}
    port = "6391"
    subprocess.run([ray, "stop", "--force"], env=env, capture_output=True, timeout=120)
    started = [
        subprocess.run(
            [
                ray,
                "start",
                "--head",
                f"--port={port}",
                "--num-cpus=1",
                "--include-dashboard=false",
                "--disable-usage-stats",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        ),
        subprocess.run(
            [ray, "start", f"--address=127.0.0.1:{port}", "--num-cpus=1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        ),
    ]
    try:
        for proc in started:
            assert proc.returncode == 0, proc.stdout + proc.stderr
        yield env
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True, timeout=120)
