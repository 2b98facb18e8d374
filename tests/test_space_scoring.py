"""Whole-space scoring: a small range end to end, the isomorphism copy, resume after kill -9, bad input."""

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import kill_midway, records_per_index

from nasbench_capacitance import cli, config
from nasbench_capacitance.evaluation import ranking
from nasbench_capacitance.metrics import cost
from nasbench_capacitance.metrics.aggregates import aggregate_columns
from nasbench_capacitance.nb201 import space
from nasbench_capacitance.whole_space.scoring import (
    PREFIX_LIMIT,
    SpaceError,
    Task,
    iso_invariant,
    parse_indices,
    parse_sample,
    representatives,
    score_cells,
    tasks,
    training_free_metrics,
)

NBCAP = [sys.executable, "-m", "nasbench_capacitance.cli"]
SMOKE = ["--preset", "smoke", "--set", "proxies.batch_size=16"]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_small_range_end_to_end(tmp_path, nb201_table, capsys):
    out = tmp_path / "space"
    assert cli.main(["space", *SMOKE, "--indices", "100:112", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = read_csv(out / "space.csv")
    assert [int(r["index"]) for r in rows] == list(range(100, 112))
    assert {"iso_class", "params", "flops", "synflow", "nwot", "time_synflow", "time_wall"} <= set(rows[0])
    assert all(r["status"] == "ok" for r in rows)
    assert float(rows[0]["params"]) == pytest.approx(cost._count(space.arch_from_index(100))[0] / 1e6)
    correlations = read_csv(out / "space_correlations.csv")
    targets = {r["target"] for r in correlations}
    assert targets == {"c10valid_xvalid_200_v10", "c10_test_200", "c100_test_200", "in16_test_200"}
    assert {r["subset"] for r in correlations} == {"all", "non-degenerate"}
    assert len(correlations) == (len(training_free_metrics()) + 3) * 4 * 2 and all(
        r["n"] == "12" for r in correlations if r["subset"] == "all"
    )  # the three rank aggregates too, over these 12 cells
    columns = {k: np.array([float(r[k]) for r in rows]) for k in rows[0] if k in training_free_metrics()}
    for name, values in aggregate_columns(columns).items():
        np.testing.assert_allclose([float(r[name]) for r in rows], values, rtol=1e-8)
    search = read_csv(out / "space_search.csv")
    assert {"top1", "top10", "top100", "recall_top1pct", "recall_top5pct", "rank_of_best"} <= set(search[0])
    oracle = [r for r in search if r["metric"] == "(oracle)"][0]
    assert float(oracle["rank_of_best"]) == 1.0
    for name in ("space_hexbin.png", "space_tau_heatmap.png", "space_topk.png", "space_correlations.json"):
        assert (out / name).is_file(), name
    meta = json.loads((out / "space_correlations.json").read_text())["provenance"]
    assert "CIFAR-10 images for every target" in meta["note"]
    assert "CIFAR-10 images for every target" in printed and max(len(line) for line in printed.splitlines()) <= 100
    # `nbcap report` recognises a whole-space scoring and rebuilds its outputs from the store alone
    (out / "space.csv").unlink()
    assert cli.main(["report", str(out), "--no-figures"]) == 0 and (out / "space.csv").is_file()


def test_iso_copy_scores_one_cell_per_class_and_copies_only_invariant_metrics(tmp_path, nb201_table):
    reps = representatives()
    assert len(np.unique(reps)) == 6466
    # a class with several members inside a small range, its representative included
    classes = {}
    for index, r in enumerate(reps):
        classes.setdefault(int(r), []).append(index)
    rep, members = next((r, [i for i in m if i < r + 40]) for r, m in classes.items() if len(m) > 1 and m[1] < r + 40)
    cfg = config.load("smoke", overrides=["proxies.batch_size=16"])
    names = ["params", "synflow", "jacob_cov", "nwot", "l2_norm"]
    records = score_cells(Task(tuple(members), tuple(names), True), cfg, 1)
    by_index = {r["index"]: r for r in records}
    copied = [n for n in names if iso_invariant(n)]
    assert copied == ["synflow", "jacob_cov"]
    for index in members[1:]:
        r = by_index[index]
        assert r["extra"]["copied_from"] == rep and r["extra"]["copied"] == copied
        for name in copied:
            assert r["metrics"][name] == by_index[rep]["metrics"][name]
        assert r["metrics"]["params"]["0"] == pytest.approx(cost.nb201_costs(space.arch_from_index(index))[0])
    # without copying, every member is scored itself: invariant metrics agree in kind, not bit for bit
    alone = score_cells(Task(tuple(members), tuple(names), False), cfg, 1)
    assert all("copied_from" not in r["extra"] for r in alone)
    assert alone[0]["metrics"] == by_index[rep]["metrics"]
    # tasks keep a class together
    assert all(len({int(reps[i]) for i in t.indices}) <= len(t.indices) for t in tasks(members, names, True, size=2))
    assert sorted(i for t in tasks(members, names, True, size=2) for i in t.indices) == members


@pytest.mark.slow
def test_killed_scoring_resumes_without_losing_or_duplicating(tmp_path, nb201_table):
    out = tmp_path / "space"
    cmd = NBCAP + [
        "space",
        *SMOKE,
        "--indices",
        "0:60",
        "--metrics",
        "params,synflow,nwot",
        "--out",
        str(out),
        "--no-figures",
    ]
    killed_at = kill_midway(cmd, out / "results.db", after=20)
    assert 1 <= killed_at < 60, "the scoring should be killed midway"
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"resuming: {killed_at} of 60 cells" in done.stderr
    counts = records_per_index(out / "results.db")
    assert sorted(counts) == list(range(60)) and all(n == 1 for n in counts.values())
    # a further range extends the same scoring
    more = subprocess.run(
        NBCAP
        + [
            "space",
            *SMOKE,
            "--indices",
            "60:64",
            "--metrics",
            "params,synflow,nwot",
            "--out",
            str(out),
            "--no-figures",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert more.returncode == 0, more.stderr
    assert len(read_csv(out / "space.csv")) == 64


SLOW_PLUGIN = """
import os, pathlib, time
from nasbench_capacitance.metrics import metric

@metric("slow", kind="init", passes=(), description="a stand-in for a costly proxy")
def slow(session) -> float:
    pathlib.Path(os.environ["SLOW_MARK"], str(os.getpid())).touch()
    time.sleep(60)
    return 0.0
"""


def test_a_stopped_scoring_ends_its_workers_at_once(tmp_path, nb201_table):
    plugin, marks = tmp_path / "slow.py", tmp_path / "marks"
    plugin.write_text(SLOW_PLUGIN)
    marks.mkdir()
    cmd = NBCAP + ["space", *SMOKE, "--indices", "0:4", "--metrics", "slow", "--plugin", str(plugin), "--workers", "2"]
    proc = subprocess.Popen(
        cmd + ["--out", str(tmp_path / "s"), "--no-figures"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "SLOW_MARK": str(marks)},
    )
    deadline = time.time() + 120
    while len(list(marks.iterdir())) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    workers = [int(p.name) for p in marks.iterdir()]
    assert len(workers) == 2, proc.communicate()[1]
    started = time.time()
    proc.send_signal(signal.SIGTERM)  # the driver alone, as `kill PID` does
    proc.communicate(timeout=30)
    assert proc.returncode == 143 and time.time() - started < 20  # not the 60 s its workers' cells take
    time.sleep(2)
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--metrics", "snipp"], "unknown metric 'snipp'"),
        (["--metrics", "val_acc"], "val_acc needs training"),
        (["--metrics", "beta_ridge"], "beta_ridge needs training"),
        (["--indices", "0:16000"], "0 <= START < STOP <= 15625"),
        (["--indices=-1:5"], "0 <= START < STOP <= 15625"),
        (["--indices", "7:7"], "0 <= START < STOP <= 15625"),
        (["--indices", "abc"], "START:STOP"),
        (["--sample", "0"], "--sample takes N[:SEED]"),
        (["--sample", "10:x"], "--sample takes N[:SEED]"),
        (["--metrics", "az_nas"], "az_nas ranks flops, az_expressivity"),
        (["--set", "model.C=0"], "model.C must be at least 1"),
    ],
)
def test_bad_input_is_one_clear_message(argv, message, tmp_path, capsys):
    assert cli.main(["space", "--preset", "smoke", "--out", str(tmp_path / "s"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_later_metric_adds_a_column_and_anything_else_is_refused(tmp_path, nb201_table, capsys):
    out = str(tmp_path / "s")
    assert cli.main(["space", *SMOKE, "--indices", "0:3", "--metrics", "params", "--out", out, "--no-figures"]) == 0
    assert cli.main(["space", *SMOKE, "--indices", "0:2", "--metrics", "flops", "--out", out, "--no-figures"]) == 0
    rows = read_csv(tmp_path / "s" / "space.csv")
    assert [r["index"] for r in rows] == ["0", "1", "2"]
    assert all(r["params"] for r in rows) and [bool(r["flops"]) for r in rows] == [True, True, False]
    # an aggregate ranks over the cells that scored every component (flops on two of the three)
    az = "az_expressivity,az_progressivity,az_trainability"
    assert cli.main(["space", *SMOKE, "--indices", "0:3", "--metrics", az, "--out", out, "--no-figures"]) == 0
    rows = read_csv(tmp_path / "s" / "space.csv")
    components = {k: np.array([float(r[k]) for r in rows[:2]]) for k in ("flops", *az.split(","))}
    np.testing.assert_allclose([float(r["az_nas"]) for r in rows[:2]], aggregate_columns(components)["az_nas"])
    assert rows[2]["az_nas"] == "" and "az_nas: ranks of its components over the 2 cells" in capsys.readouterr().out
    # a metric already scored in another run: the message names the ones still missing
    assert cli.main(["space", *SMOKE, "--indices", "0:2", "--metrics", "flops,synflow", "--out", out]) == 2
    err = capsys.readouterr().err
    assert "already scores flops" in err and "--metrics synflow" in err and "Traceback" not in err
    # another seed is another study
    assert cli.main(["space", *SMOKE, "--set", "run.seed=1", "--metrics", "synflow", "--out", out]) == 2
    err = capsys.readouterr().err
    assert "holds a different study" in err and "seed" in err and "Traceback" not in err


def test_indices_samples_and_costs():
    assert parse_indices(None) == range(15625) and parse_indices("10:") == range(10, 15625)
    # a smaller sample with the same seed is a prefix, up to the limit where random.sample changes method
    assert parse_sample(f"{PREFIX_LIMIT}:4")[:200] == parse_sample("200:4") == space.sample_indices(200, 4)
    assert parse_sample("1000")[:10] == parse_sample("10:0")
    assert parse_indices(":5") == range(5)
    with pytest.raises(SpaceError):
        parse_indices("5")
    for index in np.random.default_rng(0).choice(15625, 12, replace=False):
        arch = space.arch_from_index(int(index))
        params, flops = cost._count(arch)
        assert cost.nb201_costs(arch) == pytest.approx((params / 1e6, flops / 1e6), rel=1e-12)


def test_search_quality_breaks_ties_in_expectation():
    truth = np.array([90.0, 80.0, 70.0, 60.0])
    q = ranking.search_quality(np.array([4.0, 3.0, 2.0, 1.0]), truth)
    assert (q.top1, q.top10, q.rank_of_best) == (90.0, 75.0, 1.0)
    tied = ranking.search_quality(np.array([1.0, 1.0, 0.0, 0.0]), truth)
    assert tied.top1 == 85.0 and tied.rank_of_best == 1.5
    flat = ranking.search_quality(np.zeros(4), truth)
    assert flat.top1 == 75.0 and flat.rank_of_best == 2.5 and flat.recall_top1pct == 0.25


def test_kendall_rows_switch_to_scipy_for_many_points():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, ranking.PAIRWISE_LIMIT + 1))
    y = x + rng.normal(size=x.shape)
    y[:, :50] = 0.0  # ties
    small = ranking.kendall_tau_rows(x[:, :400], y[:, :400])
    assert small == pytest.approx([ranking.kendall_tau(a, b) for a, b in zip(x[:, :400], y[:, :400])])
    assert ranking.kendall_tau_rows(x, y) == pytest.approx([ranking.kendall_tau(a, b) for a, b in zip(x, y)])


@pytest.mark.slow
def test_ray_auto_on_a_two_node_cluster(tmp_path, nb201_table, two_node_ray_cluster):
    out = tmp_path / "space"
    cmd = NBCAP + [
        "space",
        *SMOKE,
        "--indices",
        "0:8",
        "--metrics",
        "params,synflow",
        "--ray",
        "auto",
        "--out",
        str(out),
        "--no-figures",
    ]
    done = subprocess.run(cmd, env=two_node_ray_cluster, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(out / "results.db") as conn:
        rows = conn.execute("SELECT arch_index, extra FROM records").fetchall()
    assert sorted(i for i, _ in rows) == list(range(8))
    nodes = {json.loads(extra)["ray_node"] for _, extra in rows}
    assert len(nodes) == 2, "both nodes of the cluster should have scored cells"
