"""Every protocol of benchmarks/frontier_protocols.toml builds a valid study config, so a typo in an
override fails here and not an hour into a frontier run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import fidelity_frontier  # noqa: E402
from fidelity_frontier import PROTOCOLS, protocol_config  # noqa: E402

from nasbench_capacitance.config import read_toml  # noqa: E402
from nasbench_capacitance.data.ground_truth import GroundTruth  # noqa: E402
from nasbench_capacitance.nb201 import space  # noqa: E402
from nasbench_capacitance.store.records import Record  # noqa: E402
from nasbench_capacitance.store.results import ResultStore  # noqa: E402

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


def _write_seed(folder: Path, scores: dict[int, float]) -> None:
    with ResultStore(folder / "results.db") as store:
        run_id = store.start_run({"seed": folder.name}, {})
        for index, score in scores.items():
            store.add_record(
                run_id,
                Record(index, str(space.arch_from_index(index)), "ok", None, {"val_acc": {"4": score}}, {"wall": 2.0}),
            )


def test_a_seed_still_running_is_left_out_not_shrinking_the_others(nb201_table, tmp_path, capsys):
    truth = GroundTruth.from_table(nb201_table, fidelity_frontier.TARGET)
    cells = list(range(40))
    accuracy = truth.accuracies(cells)
    _write_seed(tmp_path / "p" / "seed-0", dict(zip(cells, accuracy)))  # ranks perfectly
    _write_seed(tmp_path / "p" / "seed-1", {0: 1.0, 1: 2.0})  # two cells in: still running
    (row,) = fidelity_frontier.summarise(tmp_path, ["p"], truth)
    assert (row["runs"], row["cells"]) == (1, 40)
    assert row["tau_val_acc"] > 0.99 and row["seconds_per_cell"] == 2.0
    assert "seed-1: 2 of 40 cells, still running" in capsys.readouterr().err


def test_the_frontier_keeps_protocols_that_beat_every_cheaper_one():
    rows = [
        {"protocol": name, "seconds_per_cell": s, "tau_val_acc": t}
        for name, s, t in [("a", 10, 0.1), ("b", 20, 0.3), ("c", 30, 0.2), ("d", 40, 0.35)]
    ]
    assert [r["protocol"] for r in fidelity_frontier.pareto_front(rows)] == ["a", "b", "d"]
