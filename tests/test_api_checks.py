"""The Python faces check their arguments before any work: one ValueError or TypeError naming the fix."""

from __future__ import annotations

import time

import pytest

from nasbench_capacitance import NaslibPredictor, Scorer, SimulatedAPI, config
from nasbench_capacitance.store import identity
from nasbench_capacitance.store.results import ResultStore


@pytest.fixture()
def folders(tmp_path):
    """A file, a whole-space scoring's folder and a study of another configuration."""
    (tmp_path / "file.txt").write_text("not a folder")
    cfg = config.load("smoke")
    for name, study in (
        ("space", identity.space_scoring(cfg, ["params"], False)),
        ("other", identity.study(config.load("smoke", overrides=["sample.archs=9"]))),
    ):
        (tmp_path / name).mkdir()
        with ResultStore(tmp_path / name / "results.db") as store:
            store.start_run(study, {})
    return tmp_path


CASES = [  # (a call that must be refused at once, the error's type, what its message must name)
    (lambda d: Scorer(42), TypeError, "Scorer takes a metric's name"),
    (lambda d: Scorer("nowt"), ValueError, "unknown metric 'nowt'"),
    (lambda d: Scorer("nwot", source="cache"), ValueError, "source must be one of auto, table, live"),
    (lambda d: Scorer("val_acc", "smoke", budget="abc"), ValueError, "budget= is the training budget in epochs"),
    (lambda d: Scorer("val_acc", "smoke", budget=9), ValueError, "0..2 (train.epochs)"),
    (lambda d: Scorer("nwot", "smoke", store=d / "file.txt"), ValueError, "is a file: give a folder"),
    (lambda d: Scorer("nwot", "smoke", store=d / "space", source="live"), ValueError, "holds a whole-space scoring"),
    (lambda d: Scorer("nwot", "smoke", store=d / "other"), ValueError, "holds a study of another configuration"),
    (lambda d: Scorer("nwot", config={"model": {}}), TypeError, "config= takes a StudyConfig"),
    (lambda d: Scorer("beta_ridge", "smoke").fit([0, 1, 2, 3, 4, 5, 6], [80] * 6), ValueError, "7 cells and 6"),
    (lambda d: Scorer("beta_ridge", "smoke").fit([0, 1, 2], [80, 81, 82]), ValueError, "at least 6 cells"),
    (lambda d: Scorer("nwot").query(6111), TypeError, "query takes a list of cells"),
    (lambda d: NaslibPredictor("nwot"), TypeError, "NaslibPredictor takes a Scorer"),
    (lambda d: NaslibPredictor(Scorer("nwot")).query(42), TypeError, "query takes a list of cells"),
    (lambda d: SimulatedAPI(scorer="nwot"), TypeError, "SimulatedAPI takes a Scorer"),
    (lambda d: SimulatedAPI(table=d / "missing.csv"), ValueError, "no such NB201 table"),
]


@pytest.mark.parametrize("call, error, message", CASES)
def test_the_python_faces_refuse_bad_arguments_at_once(call, error, message, folders, nb201_table):
    before = {p: p.read_bytes() for p in folders.glob("*/*.db")}
    start = time.perf_counter()
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        call(folders)
    assert time.perf_counter() - start < 5  # refused before any training or decoding
    assert {p: p.read_bytes() for p in folders.glob("*/*.db")} == before  # no store written to
