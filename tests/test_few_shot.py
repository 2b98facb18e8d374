"""The few-shot predictor: its graph features by hand, the fit-and-predict contract of nbcap predict,
what it refuses, the Scorer's face, and the search that refits it."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from nasbench_capacitance import Scorer, cli, metrics
from nasbench_capacitance.metrics import few_shot
from nasbench_capacitance.nb201 import space
from nasbench_capacitance.predict import curve
from nasbench_capacitance.predict.space import PredictError, fit_table, table_features

NBCAP = [sys.executable, "-m", "nasbench_capacitance.cli"]
CHEAP = ("graph", "proxies_2021", "beta_init")  # the blocks the shipped table holds in every version


def graph_of(arch_str: str) -> dict[str, float]:
    index = space.Arch.from_string(arch_str).index
    return dict(zip(few_shot.graph_names(), few_shot.graph_features([index])[0]))


def test_graph_features_count_operations_and_paths_as_drawn_by_hand():
    # edges 1<-0 conv3, 2<-0 conv3, 2<-1 conv3, 3<-0 skip, 3<-1 conv3, 3<-2 conv1: four live paths
    g = graph_of("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")
    assert g["count_nor_conv_3x3"] == 4 and g["count_none"] == 0 and g["paths"] == 4
    assert g["paths_with_nor_conv_3x3"] == 3 and g["paths_with_nor_conv_1x1"] == 2 and g["paths_with_skip_connect"] == 1
    assert g["most_nor_conv_3x3_on_a_path"] == 2 and (g["fewest_convs_on_a_path"], g["most_convs_on_a_path"]) == (0, 3)
    assert (g["shortest_path"], g["longest_path"]) == (1, 3)
    # 2<-1 is none: the three-edge path is dead, and 1<-0 still reaches the output through 3<-1
    g = graph_of("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_3x3~0|avg_pool_3x3~1|skip_connect~2|")
    assert g["paths"] == 3 and g["longest_path"] == 2 and g["reaching_nor_conv_3x3"] == 3
    assert g["fewest_convs_on_a_path"] == 1 and g["paths_with_avg_pool_3x3"] == 1
    # the output reached by no path: every path feature is zero
    g = graph_of("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|avg_pool_3x3~2|")
    assert g["paths"] == 0 and g["shortest_path"] == g["longest_path"] == 0 and g["reaching_nor_conv_3x3"] == 0
    assert g["count_nor_conv_3x3"] == 1 and g["count_none"] == 4


def test_predict_ranks_the_space_and_the_seed_fixes_it(tmp_path, nb201_table):
    args = ["predict", "--calibration", "30", "--blocks", ",".join(CHEAP), "--seed", "3"]
    assert cli.main([*args, "--out", str(tmp_path / "a")]) == 0
    assert cli.main([*args, "--out", str(tmp_path / "b")]) == 0
    with open(tmp_path / "a" / "ranked.csv") as f:
        ranked = list(csv.DictReader(f))
    assert len(ranked) == space.NUM_ARCHS and sum(int(r["calibration"]) for r in ranked) == 30
    predicted = [float(r["predicted"]) for r in ranked]
    assert predicted == sorted(predicted, reverse=True) and all(float(r["uncertainty"]) >= 0 for r in ranked)
    assert (tmp_path / "a" / "ranked.csv").read_text() == (tmp_path / "b" / "ranked.csv").read_text()
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    first = summary["held_out"][0]
    assert first["target"] == "c10valid_xvalid_200_v10" and first["held_out"] == space.NUM_ARCHS - 30
    assert first["kendall_tau"] > 0.5  # far above chance with 30 cells
    with open(tmp_path / "a" / "scores.csv") as f:
        assert sum(1 for _ in f) == space.NUM_ARCHS - 30 + 1  # the held-out cells, for nbcap compare --scores


def test_a_calibration_file_is_read_and_its_mistakes_refused_before_any_fit(tmp_path, nb201_table):
    good = [space.arch_from_index(i).to_string() for i in range(0, 800, 100)]
    (tmp_path / "mine.csv").write_text("arch_str,accuracy\n" + "".join(f"{a},{80 + k}\n" for k, a in enumerate(good)))
    out = tmp_path / "out"
    assert (
        cli.main(["predict", "--calibration", str(tmp_path / "mine.csv"), "--blocks", "graph", "--out", str(out)]) == 0
    )
    with open(out / "ranked.csv") as f:
        known = {int(r["index"]): float(r["accuracy"]) for r in csv.DictReader(f) if r["calibration"] == "1"}
    assert known == {i: 80.0 + k for k, i in enumerate(range(0, 800, 100))}
    cases = {
        "unknown.csv": ("arch_str,accuracy\n|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|,80\n", "not an NB201"),
        "few.csv": ("index,accuracy\n" + "".join(f"{i},{70 + i}\n" for i in range(5)), "at least 6 cells"),
        "twice.csv": ("index,accuracy\n1,80\n1,81\n", "scored twice"),
        "two.csv": ("index,acc_a,acc_b\n1,80,81\n", "give one accuracy column"),
    }  # fmt: skip
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        argv = [
            "predict",
            "--calibration",
            str(tmp_path / name),
            "--blocks",
            "graph",
            "--out",
            str(tmp_path / f"{name}.out"),
        ]
        done = subprocess.run([*NBCAP, *argv], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and message in done.stderr, (name, done.stderr)
        assert not (tmp_path / f"{name}.out").exists()  # refused before anything was written
    for args, message in (
        (["--calibration", "0", "--blocks", "graph"], "draw 1.."),
        (["--calibration", "nothing", "--blocks", "graph"], "neither a number of cells nor a file"),
        (["--calibration", "20", "--blocks", "graph,nope"], "choose among graph"),
        (["--calibration", "20", "--model", "svm"], "unknown model 'svm'"),
        (["--calibration", "20", "--seed", "-1"], "at least 0"),
        (["--calibration", "20", "--target", "nope"], "unknown ground-truth target 'nope'"),
    ):
        done = subprocess.run([*NBCAP, "predict", *args, "--out", str(tmp_path / "x")], capture_output=True, text=True)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)


def test_every_model_fits_predicts_and_says_how_unsure_it_is(nb201_table):
    features = table_features(None, ("graph",))
    cells = curve.draw_cells(features.cells, 25, draw=1)
    accuracy = features.rows(cells)[:, 0] + np.linspace(0, 1, len(cells))  # any target will do
    for model in few_shot.MODELS:
        prediction = fit_table(features, cells, accuracy, model=model, seed=0)
        assert prediction.predicted.shape == (space.NUM_ARCHS,) and np.isfinite(prediction.predicted).all(), model
        assert (prediction.uncertainty >= 0).all() and prediction.uncertainty.max() > 0, model
    with pytest.raises(PredictError, match="not in the table"):
        fit_table(
            features.__class__(features.path, features.blocks, features.cells[:50], features.x[:50], []),
            cells,
            accuracy,
        )


def test_the_scorer_fits_few_shot_on_a_table_and_scores_cells_it_never_saw(tmp_path):
    rng = np.random.default_rng(0)
    cells = list(range(0, 3000, 100))
    names = few_shot.FEATURE_METRICS
    rows = [
        f"{i},{space.arch_from_index(i).to_string()}," + ",".join(f"{v:.4f}" for v in rng.normal(size=len(names)))
        for i in cells
    ]
    (tmp_path / "space.csv").write_text("index,arch_str," + ",".join(names) + "\n" + "\n".join(rows) + "\n")
    scorer = Scorer("few_shot", table=tmp_path / "space.csv")
    assert scorer.needs.calibration and not scorer.needs.training
    with pytest.raises(ValueError, match="call fit"):
        scorer.score(0)
    scorer.fit(cells[:20], np.linspace(60, 90, 20))
    scores = scorer.query(cells[20:])
    assert np.isfinite(scores).all() and scorer.cost.calls == len(cells)
    assert metrics.get("few_shot").kind == "calibrated"


def test_the_few_shot_search_runs_and_its_seed_fixes_it(tmp_path, nb201_table):
    argv = ["search", "--algorithm", "few_shot", "--budget", "1500", "--seeds", "2", "--table", str(nb201_table)]
    assert cli.main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert cli.main([*argv, "--out", str(tmp_path / "b")]) == 0
    first, second = ((tmp_path / d / "summary.csv").read_text() for d in "ab")
    assert first == second and "few_shot" in first
