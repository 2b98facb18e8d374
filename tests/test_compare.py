"""Plug-ins, imported scores and `nbcap compare`, on the smoke setting and real ground truth.

The command-line cases run in fresh processes: a plug-in's metrics join the process's one registry.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from nasbench_capacitance.data.ground_truth import GroundTruth
from nasbench_capacitance.metrics import imported
from nasbench_capacitance.nb201 import space

NBCAP = [sys.executable, "-m", "nasbench_capacitance.cli"]
PLUGIN = """
import torch

from nasbench_capacitance.metrics import metric


@metric("active_share", kind="init", passes=("activations",), description="share of active ReLU units")
def active_share(session) -> float:
    return float(torch.cat(session.activations.codes, dim=1).float().mean()) * SCALE


@metric("convs", kind="arch", description="convolutions in the cell")
def convs(inputs):
    return {"0": float(sum(op.startswith("nor_conv") for op in inputs.arch.ops))}

SCALE = 1.0
"""


def nbcap(*args: str, ok: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([*NBCAP, *args], capture_output=True, text=True, timeout=600, env=env)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture()
def plugin(tmp_path) -> Path:
    path = tmp_path / "my_metrics.py"
    path.write_text(PLUGIN)
    return path


def test_a_plugin_scores_searches_and_compares(plugin, tmp_path, nb201_table):
    score = json.loads(
        nbcap(
            "score", "6111", "--plugin", str(plugin), "--metrics", "active_share,convs", "--epochs", "0", "--json"
        ).stdout
    )
    assert 0 < score["metrics"]["active_share"]["0"] < 1 and score["metrics"]["convs"]["0"] == 5.0
    alone = tmp_path / "alone"
    nbcap(
        "space",
        "--plugin",
        str(plugin),
        "--preset",
        "smoke",
        "--metrics",
        "active_share,convs,params",
        "--indices",
        "0:6",
        "--out",
        str(alone),
    )
    pooled = tmp_path / "pooled"
    nbcap(
        "space", "--plugin", str(plugin), "--preset", "smoke", "--metrics", "active_share,convs", "--indices", "0:6",
        "--workers", "2", "--set", "run.threads=1", "--out", str(pooled),
    )  # fmt: skip
    with open(alone / "space.csv") as a, open(pooled / "space.csv") as b:
        first, second = list(csv.DictReader(a)), list(csv.DictReader(b))
    assert [r["convs"] for r in first] == [r["convs"] for r in second]  # the workers knew the plug-in
    assert all(abs(float(x["active_share"]) - float(y["active_share"])) < 1e-6 for x, y in zip(first, second))
    search = nbcap(
        "search", "--plugin", str(plugin), "--algorithm", "proxy", "--proxy", "active_share", "--param", "cells=4",
        "--preset", "smoke", "--budget", "1000", "--seeds", "2", "--table", str(nb201_table),
        "--out", str(tmp_path / "s"),
    )  # fmt: skip
    assert "proxy(active_share, cells=4)" in search.stderr
    compared = nbcap(
        "compare", "active_share,convs", "--plugin", str(plugin), "--preset", "smoke", "--cells", "60", "--seeds", "4",
        "--baselines", "nwot,params,synflow,zico", "--out", str(tmp_path / "c"),
    )  # fmt: skip
    report = (tmp_path / "c" / "report.md").read_text()
    assert "- `active_share`: τ" in compared.stderr and "## Does it add information?" in report
    assert "proxy(convs, cells=10) [pool]" in report and (tmp_path / "c" / "compare_tau.png").is_file()
    with open(tmp_path / "c" / "correlations.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["subset"] == "all" and r["target"] == "c10valid_xvalid_200_v10"]
    assert {r["metric"] for r in rows} == {"active_share", "convs", "nwot", "params", "synflow", "zico"}


def test_a_changed_plugin_is_caught_on_resume(plugin, tmp_path):
    out = str(tmp_path / "space")
    args = [
        "space",
        "--plugin",
        str(plugin),
        "--preset",
        "smoke",
        "--metrics",
        "active_share",
        "--indices",
        "0:3",
        "--out",
        out,
    ]
    nbcap(*args)
    plugin.write_text(PLUGIN.replace("SCALE = 1.0", "SCALE = 2.0"))
    refused = nbcap(*args, ok=False)
    assert refused.returncode == 2 and "differs in: plugins" in refused.stderr
    study = tmp_path / "study"
    run = ["run", "--plugin", str(plugin), "--preset", "smoke", "--set", "sample.archs=2", "--set", "train.epochs=0"]
    run += ["--set", 'proxies.names=["active_share"]', "--out", str(study)]
    nbcap(*run)
    plugin.write_text(PLUGIN.replace("SCALE = 1.0", "SCALE = 3.0"))
    refused = nbcap(*run, ok=False)
    assert refused.returncode == 2 and "plugins.my_metrics.py" in refused.stderr and "--new-run" in refused.stderr


BAD = [  # (the plug-in's text, or None for none; the arguments; what the one error line must name)
    (None, ["score", "0", "--plugin", "{tmp}/missing.py"], "plug-in {tmp}/missing.py not found"),
    (None, ["score", "0", "--plugin", "no_such_module_xyz"], "no module of that name can be imported"),
    ("raise RuntimeError('boom')\n", ["score", "0", "--plugin", "{plugin}"], "raised RuntimeError: boom"),
    ("x = 1\n", ["score", "0", "--plugin", "{plugin}"], "registers no metric"),
    (
        "from nasbench_capacitance.metrics import metric\n"
        "@metric('nwot', kind='arch', description='x')\ndef f(i): return {}\n",
        ["score", "0", "--plugin", "{plugin}"],
        "'nwot' is registered twice: the name is taken (built-in)",
    ),
    (None, ["compare", "nowt,snipp", "--out", "{tmp}/c"], "unknown metrics 'nowt', 'snipp'"),
    (None, ["compare", "val_acc", "--out", "{tmp}/c"], "val_acc needs training"),
    (None, ["compare", "nwot", "--cells", "15626", "--out", "{tmp}/c"], "--cells takes 1..15625"),
    (None, ["compare", "nwot", "--baselines", "nowt", "--out", "{tmp}/c"], "--baselines nowt: give auto, all, table"),
    (
        None,
        ["compare", "x", "--scores", "{tmp}/unknown.csv", "--out", "{tmp}/c"],
        "row 3: index '99999' is not an NB201 cell",
    ),
    (None, ["compare", "x", "--scores", "{tmp}/twice.csv", "--out", "{tmp}/c"], "row 3: cell 5 is scored twice"),
    (
        None,
        ["compare", "x", "--scores", "{tmp}/word.csv", "--out", "{tmp}/c"],
        "row 2, column x: 'high' is not a number",
    ),
    (None, ["compare", "x", "--scores", "{tmp}/good.csv", "--sign", "y=-1", "--out", "{tmp}/c"], "has no column 'y'"),
    (None, ["compare", "nwot", "--scores", "{tmp}/taken.csv", "--out", "{tmp}/c"], "--scores-prefix"),
]


@pytest.mark.parametrize("text, argv, message", BAD)
def test_bad_plugins_and_scores_are_one_line_before_any_work(text, argv, message, tmp_path):
    plugin = tmp_path / "bad_plugin.py"
    if text is not None:
        plugin.write_text(text)
    for name, body in (
        ("unknown", "index,x\n5,1.0\n99999,2.0\n"),
        ("twice", "index,x\n5,1.0\n5,2.0\n"),
        ("word", "index,x\n5,high\n"),
        ("good", "index,x\n5,1.0\n"),
        ("taken", "index,nwot\n5,1.0\n"),
    ):
        (tmp_path / f"{name}.csv").write_text(body)
    args = [a.replace("{tmp}", str(tmp_path)).replace("{plugin}", str(plugin)) for a in argv]
    done = nbcap(*args, ok=False)
    err = done.stderr
    assert done.returncode == 2 and message.replace("{tmp}", str(tmp_path)) in err, err
    assert "nbcap" in err.splitlines()[-1] and err.count("error:") == 1
    assert not (tmp_path / "c").exists()
    if text and "raise" in text:
        assert "Traceback of the plug-in" in err and "bad_plugin.py" in err  # the user's own frames


def test_imported_scores_give_the_tau_scipy_gives_from_the_file(tmp_path, nb201_table):
    truth = GroundTruth.from_table(nb201_table, "c10valid_xvalid_200_v10")
    rng = np.random.default_rng(0)
    cells = sorted(space.sample_indices(60, seed=3))
    scores = truth.accuracies(cells) + rng.normal(0, 3, len(cells))
    lines = ["arch_str,noisy,time_noisy"] + [
        f"{space.arch_from_index(c).to_string()},{s},0.5" for c, s in zip(cells, scores)
    ]
    (tmp_path / "mine.csv").write_text("\n".join(lines) + "\n")
    nbcap(
        "compare",
        "noisy",
        "--scores",
        str(tmp_path / "mine.csv"),
        "--whole-space",
        "--baselines",
        "table",
        "--seeds",
        "3",
        "--out",
        str(tmp_path / "c"),
    )
    expected = stats.kendalltau(scores, truth.accuracies(cells)).statistic
    with open(tmp_path / "c" / "correlations.csv") as f:
        row = next(
            r for r in csv.DictReader(f)
            if r["metric"] == "noisy" and r["target"] == "c10valid_xvalid_200_v10" and r["subset"] == "all"
        )  # fmt: skip
    assert int(row["n"]) == 60 and float(row["kendall_tau"]) == pytest.approx(expected, abs=1e-4)
    assert not (tmp_path / "c" / "scores").exists()  # --baselines table: every baseline read, none scored


def test_naslibs_zero_cost_file_reads_as_it_is(data_root, nb201_table):
    path = data_root / "nb201" / "sources" / "naslib_zc_nasbench201_724archs_prerelease.json"
    scores = imported.read_scores(path, prefix="naslib_")
    assert {"naslib_nwot", "naslib_jacov", "naslib_synflow"} <= set(scores.columns)
    raw = json.loads(path.read_text())["cifar10"]
    truth = GroundTruth.from_table(nb201_table, "c10valid_xvalid_200_v10")
    cells = [space.Arch.from_naslib([int(k) for k in key.strip("()").split(",")]).index for key in raw]
    by_hand = np.clip([raw[k]["nwot"]["score"] for k in raw], -1e9, 1e9)  # NASLib reads -inf (one cell) as -1e9
    expected = stats.kendalltau(by_hand, truth.accuracies(cells)).statistic
    ours = scores.columns["naslib_nwot"]
    kept = np.flatnonzero(np.isfinite(ours))
    assert scores.coverage("naslib_nwot") == len(set(cells)) and len(kept) > 700
    assert stats.kendalltau(ours[kept], truth.accuracies(kept)).statistic == pytest.approx(expected, abs=1e-9)
    assert np.isfinite(scores.seconds["naslib_nwot"][kept]).all()  # NASLib's recorded seconds come along


@pytest.mark.slow
def test_a_plugin_on_the_two_node_ray_cluster(plugin, tmp_path, nb201_table, two_node_ray_cluster):
    out = tmp_path / "ray"
    nbcap(
        "space", "--plugin", str(plugin), "--preset", "smoke", "--metrics", "active_share,convs", "--indices", "0:12",
        "--ray", "auto", "--out", str(out), env=two_node_ray_cluster,
    )  # fmt: skip
    with open(out / "space.csv") as f:
        assert len([r for r in csv.DictReader(f) if r["status"] == "ok" and r["active_share"]]) == 12


def test_a_search_that_finds_no_cell_in_time_reads_as_a_dash():
    from types import SimpleNamespace

    from nasbench_capacitance.comparison.run import _search_section

    rows = [
        {"label": "warmup(x)", "budget": "1000.0", "mean": "", "std": ""},  # its warm-up costs more than 1000 s
        {"label": "warmup(x)", "budget": "3000.0", "mean": "93.5", "std": "0.4"},
        {"label": "rea", "budget": "1000.0", "mean": "92.3", "std": ""},  # one seed: no spread
    ]
    text = "\n".join(_search_section(rows, SimpleNamespace(whole_space=True, cells=[]), "x", 1))
    assert "| `warmup(x)` | — (the proxy costs more) | 93.50 ± 0.40 |" in text and "| `rea` | 92.30 |" in text


def test_the_report_counts_the_built_in_baselines_apart_from_the_aggregates():
    from types import SimpleNamespace

    from nasbench_capacitance.comparison import job
    from nasbench_capacitance.comparison.run import _baselines_described

    every = job.baselines()
    some = SimpleNamespace(baselines=[*every[:-1], "az_nas"])
    assert _baselines_described(some) == (
        f"{len(every) - 1} of the {len(every)} built-in training-free metrics (--baselines) "
        "and the rank aggregates over them (az_nas)"
    )
    assert (
        _baselines_described(SimpleNamespace(baselines=every)) == f"every built-in training-free metric ({len(every)})"
    )
