"""Every frontier protocol is a preset that builds a valid study config, so a typo in one fails here and
not an hour into a frontier run; the frontier's summary compares seeds on the cells they share."""

from __future__ import annotations

from pathlib import Path

import pytest

from nasbench_capacitance import config
from nasbench_capacitance.data.ground_truth import GroundTruth
from nasbench_capacitance.nb201 import space
from nasbench_capacitance.store.records import Record
from nasbench_capacitance.store.results import ResultStore
from nasbench_capacitance.study import frontier, protocols, samples


@pytest.mark.parametrize("name", [*protocols.FRONTIER, *protocols.BETA_VARIANTS, "n3_r24_e8"])
def test_protocol_builds_a_config(name):
    cfg = protocols.protocol_config(name, cells=[0, 1], seed=3, workers=1, threads=1)
    assert cfg.run.seed == 3
    assert list(cfg.sample.indices) == [0, 1]
    assert cfg.proxies.names == () and cfg.train.channels_last


def test_overrides_reach_the_config_and_a_protocol_keeps_the_pinned_keys_it_sets():
    cfg = protocols.protocol_config("n3_e1_snap20", cells=[0], seed=0, workers=1, threads=1)
    assert (cfg.model.N, cfg.train.epochs, cfg.train.snapshot_every_steps) == (3, 1, 20)
    assert cfg.train.probe_input == "eval"  # the frontier's pinned input
    assert protocols.protocol_config("quick_batchprobe", [0], 0, 1, 1).train.probe_input == "batch"
    held_out = protocols.protocol_config("n3", [0], 0, 1, 1, ('train.probe_input="batch"',))
    assert held_out.train.probe_input == "batch"


def test_a_preset_builds_on_its_base_and_a_loop_is_refused(tmp_path, monkeypatch):
    quick, n3 = config.load("quick"), config.load("n3")
    assert n3.model.N == 3 and n3.data == quick.data and n3.train == quick.train
    (tmp_path / "a.toml").write_text('base = "b"\n')
    (tmp_path / "b.toml").write_text('base = "a"\n')
    monkeypatch.setattr(config, "_presets_folder", lambda: tmp_path)
    monkeypatch.setattr(config, "PRESETS", ("a", "b"))
    with pytest.raises(config.ConfigError, match="names itself as a base"):
        config.load("a")


def test_the_samples_never_meet():
    dev, held = samples.dev_sample(), samples.held_out_sample(50)
    classes = {space.arch_from_index(i).iso_key for i in dev}
    assert len(dev) == 60 and not classes & {space.arch_from_index(i).iso_key for i in held}


def _write_seed(folder: Path, scores: dict[int, float]) -> None:
    with ResultStore(folder / "results.db") as store:
        run_id = store.start_run({"seed": folder.name}, {})
        for index, score in scores.items():
            store.add_record(
                run_id,
                Record(index, str(space.arch_from_index(index)), "ok", None, {"val_acc": {"4": score}}, {"wall": 2.0}),
            )


def test_a_seed_still_running_is_left_out_not_shrinking_the_others(nb201_table, tmp_path, capsys):
    truth = GroundTruth.from_table(nb201_table, samples.TARGET)
    cells = list(range(40))
    accuracy = truth.accuracies(cells)
    _write_seed(tmp_path / "p" / "seed-0", dict(zip(cells, accuracy)))  # ranks perfectly
    _write_seed(tmp_path / "p" / "seed-1", {0: 1.0, 1: 2.0})  # two cells in: still running
    (row,) = frontier.summarise(tmp_path, ["p"], truth)
    assert (row["runs"], row["cells"]) == (1, 40)
    assert row["tau_val_acc"] > 0.99 and row["seconds_per_cell"] == 2.0
    assert "seed-1: 2 of 40 cells, still running" in capsys.readouterr().err


def test_the_frontier_keeps_protocols_that_beat_every_cheaper_one():
    rows = [
        {"protocol": name, "seconds_per_cell": s, "tau_val_acc": t}
        for name, s, t in [("a", 10, 0.1), ("b", 20, 0.3), ("c", 30, 0.2), ("d", 40, 0.35)]
    ]
    assert [r["protocol"] for r in frontier.pareto_front(rows)] == ["a", "b", "d"]
