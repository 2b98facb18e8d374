"""Every protocol of benchmarks/frontier_protocols.toml builds a valid study config, so a typo in an
override fails here and not an hour into a frontier run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from fidelity_frontier import PROTOCOLS, protocol_config  # noqa: E402

from nasbench_capacitance.config import read_toml  # noqa: E402

SPECS = read_toml(PROTOCOLS)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_protocol_builds_a_config(name):
    spec = SPECS[name]
    cfg = protocol_config(spec, cells=[0, 1], seed=3, workers=1, threads=1)
    assert cfg.run.seed == 3
    assert list(cfg.sample.indices) == [0, 1]
    assert cfg.proxies.names == ()


def test_overrides_reach_the_config():
    cfg = protocol_config(SPECS["n3_e1_snap20"], cells=[0], seed=0, workers=1, threads=1)
    assert (cfg.model.N, cfg.train.epochs, cfg.train.snapshot_every_steps) == (3, 1, 20)
    assert cfg.train.probe_input == "eval"  # the frontier's pinned input (BASE_OVERRIDES)
