import csv

import numpy as np
import pytest
from nas_201_api.api_utils import ArchResults, ResultsCount

from nasbench_capacitance.data import ground_truth
from nasbench_capacitance.data.ground_truth import GroundTruth, GroundTruthError
from nasbench_capacitance.nb201 import space


def test_load_shared_table_with_explicit_target(nb201_table):
    gt = GroundTruth.from_table(nb201_table, target="c10valid_xvalid_200_v10")
    assert gt.accuracy(6111) == pytest.approx(91.606667)
    assert gt.accuracy(space.arch_from_index(6111).to_string()) == gt.accuracy(6111)
    assert len(gt.indices) == 15625
    assert gt.provenance()["epochs"] == 200 and len(gt.provenance()["sha256"]) == 64
    test = GroundTruth.from_table(nb201_table, target="cifar10/ori-test/200")
    assert test.target.column == "c10_test_200" and test.accuracy(6111) == pytest.approx(94.373333)
    assert gt.column("params_mb_c10", [6111])[0] == pytest.approx(1.073466, abs=1e-6)


def test_twelve_epoch_columns_are_never_ground_truth_by_default(nb201_table):
    with pytest.raises(GroundTruthError, match="12-epoch"):
        GroundTruth.from_table(nb201_table, target="c10_test_12")
    gt = GroundTruth.from_table(nb201_table, target="c10_test_12", allow_short_training=True)
    assert gt.target.epochs == 12
    assert all(ground_truth.TARGETS[t].epochs == 200 for t in ground_truth.STANDARD_TARGETS)


def test_clear_errors(nb201_table, tmp_path):
    with pytest.raises(TypeError):
        GroundTruth.from_table(nb201_table)  # no silent default target
    with pytest.raises(GroundTruthError, match="unknown ground-truth target"):
        GroundTruth.from_table(nb201_table, target="cifar10-accuracy")
    with pytest.raises(GroundTruthError, match="not found"):
        GroundTruth.from_table(tmp_path / "missing.csv", target="c10_test_200")
    bad = tmp_path / "bad.csv"
    bad.write_text("index,arch_str,c10_test_200\n0,|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|,90\n")
    with pytest.raises(GroundTruthError, match="official NB201 index is"):
        GroundTruth.from_table(bad, target="c10_test_200")
    bad.write_text("arch,c10_test_200\nx,1\n")
    with pytest.raises(GroundTruthError, match="missing column"):
        GroundTruth.from_table(bad, target="c10_test_200")
    a = space.arch_from_index(7)
    bad.write_text(f"index,arch_str,c10_test_200\n7,{a.to_string()},ninety\n")
    with pytest.raises(GroundTruthError, match="not a number"):
        GroundTruth.from_table(bad, target="c10_test_200")
    bad.write_text(f"index,arch_str,c10_test_200\n7,{a.to_string()},90\n")
    partial = GroundTruth.from_table(bad, target="c10_test_200")
    with pytest.raises(GroundTruthError, match="not in the table"):
        partial.accuracy(8)
    with pytest.raises(ValueError, match="bad token"):
        partial.accuracy("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|")


def _result(arch_str, seed, epochs, valid, test, names=("x-valid", "ori-test")):
    r = ResultsCount(
        "cifar", None, [50.0] * epochs, [1.0] * epochs, 0.5, 70.0, {"arch_str": arch_str}, seed, epochs, None
    )
    accs, losses, times = {}, {}, {}
    for name, value in zip(names, (valid, test)):
        for e in range(epochs):
            accs[f"{name}@{e}"] = value - (epochs - 1 - e)
            losses[f"{name}@{e}"] = 1.0
            times[f"{name}@{e}"] = 0.1
    r.update_eval(accs, losses, times)
    return r


def synthetic_benchmark(indices):
    """A tiny benchmark dictionary in the official layout, built with the API's own classes."""
    meta = [a.to_string() for a in space.all_archs()]
    arch2infos = {}
    for i in indices:
        per_hp = {}
        for key, epochs in (("full", 200), ("less", 12)):
            res = ArchResults(i, meta[i])
            for seed, shift in ((777, 0.0), (888, 1.0)):
                res.update("cifar10-valid", seed, _result(meta[i], seed, epochs, 80 + i % 7 + shift, 79 + shift))
                res.update(
                    "cifar10",
                    seed,
                    _result(meta[i], seed, epochs, 0, 90 + i % 5 + shift, names=("x-unused", "ori-test")),
                )
                res.update(
                    "cifar100",
                    seed,
                    _result(meta[i], seed, epochs, 60 + shift, 61 + shift, names=("x-valid", "x-test")),
                )
            per_hp[key] = res.state_dict()
        arch2infos[i] = per_hp
    return {"meta_archs": meta, "arch2infos": arch2infos, "evaluated_indexes": list(indices)}


def test_import_through_real_api_uses_200_epoch_seed_means(tmp_path):
    bench = synthetic_benchmark([6111, 3, 10])
    out = ground_truth.import_official(bench, tmp_path / "table.csv")
    with open(out, newline="") as f:
        rows = {int(r["index"]): r for r in csv.DictReader(f)}
    assert sorted(rows) == [3, 10, 6111]
    assert float(rows[6111]["c10valid_xvalid_200"]) == pytest.approx(
        80 + 6111 % 7 + 0.5
    )  # mean over 2 seeds, last epoch
    assert float(rows[6111]["c10_test_200"]) == pytest.approx(90 + 6111 % 5 + 0.5)
    assert float(rows[3]["c100_test_200"]) == pytest.approx(61.5)
    assert rows[3]["in16_test_200"] == ""  # not in the synthetic file
    gt = GroundTruth.from_table(out, target="c10valid_xvalid_200")
    assert gt.accuracy(10) == pytest.approx(80 + 10 % 7 + 0.5)
    assert float(rows[3]["params_mb_c10"]) == pytest.approx(0.5)


def test_import_nats_layout_and_pickle_consent(tmp_path):
    bench = synthetic_benchmark([5])
    nats = {**bench, "arch2infos": {i: {"200": v["full"], "12": v["less"]} for i, v in bench["arch2infos"].items()}}
    out = ground_truth.import_official(nats, tmp_path / "nats.csv")
    assert GroundTruth.from_table(out, target="c10_test_200").accuracy(5) == pytest.approx(90 + 5 % 5 + 0.5)
    import torch

    pth = tmp_path / "NAS-Bench-201-fake.pth"
    torch.save(bench, pth)
    with pytest.raises(PermissionError, match="trust_pickle"):
        ground_truth.import_official(pth, tmp_path / "x.csv")
    out = ground_truth.import_official(pth, tmp_path / "x.csv", trust_pickle=True)
    assert np.isclose(GroundTruth.from_table(out, target="c10valid_xvalid_200").accuracy(5), 80 + 5 % 7 + 0.5)
