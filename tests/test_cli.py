"""The command line on the smoke preset: run, kill-and-resume, report, score, config errors."""

import csv
import gzip
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import count_records, kill_midway, records_per_index, start_until

from nasbench_capacitance import cli, config

NBCAP = [sys.executable, "-m", "nasbench_capacitance.cli"]


@pytest.mark.slow
def test_killed_run_resumes_without_losing_or_duplicating(tmp_path, nb201_table):
    out = tmp_path / "study"
    cmd = NBCAP + ["run", "--preset", "smoke", "--set", "sample.archs=6", "--out", str(out)]
    killed_at = kill_midway(cmd, out / "results.db", after=2)
    assert 1 <= killed_at < 6, "the run should be killed midway"
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"resuming: {killed_at} of 6" in done.stderr
    counts = records_per_index(out / "results.db")
    assert len(counts) == 6 and all(n == 1 for n in counts.values())
    for name in (
        "records.csv",
        "correlations.csv",
        "correlations.json",
        "tau_vs_epoch.png",
        "tau_training_free.png",
        "beta_vs_accuracy.png",
        "beta_trajectories.png",
    ):
        assert (out / name).is_file(), name
    assert "ground truth: cifar10-valid / x-valid / 200 epochs" in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 100
    # The report is rebuilt from the store alone.
    (out / "correlations.csv").unlink()
    report = subprocess.run(NBCAP + ["report", str(out)], capture_output=True, text=True, timeout=120)
    assert report.returncode == 0 and (out / "correlations.csv").is_file()
    meta = json.loads((out / "correlations.json").read_text())["provenance"]
    assert meta["ground_truth"]["epochs"] == 200 and meta["provenance"]["torch"]


def test_score_prints_one_json_object(capsys):
    assert cli.main(["score", "6111", "--metrics", "params,flops", "--epochs", "0", "--json"]) == 0
    out = capsys.readouterr().out
    record = json.loads(out)
    assert out.count("\n") == 1 and '"index": 6111,' in out
    assert record["index"] == 6111 and record["metrics"]["params"]["0"] == pytest.approx(1.073466)
    assert record["metrics"]["flops"]["0"] == pytest.approx(153.27297)
    assert (
        cli.main(
            [
                "score",
                "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
                "--preset",
                "smoke",
                "--metrics",
                "beta_weight,val_acc",
                "--epochs",
                "1",
                "--json",
            ]
        )
        == 0
    )
    record = json.loads(capsys.readouterr().out)
    assert set(record["metrics"]) == {"beta_weight", "val_acc"} and list(record["metrics"]["val_acc"]) == ["1"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["run", "--preset", "smoke", "--set", "train.epoch=2", "--out", "x"],
            "unknown key train.epoch; valid keys: sample.archs",
        ),
        (["run", "--preset", "smoke", "--set", "train.epochs=two", "--out", "x"], "train.epochs must be an integer"),
        (["score", "6111", "--metrics", "beta", "--epochs", "0"], "unknown metric 'beta'"),
        (["score", "6111", "--metrics", "val_acc", "--epochs", "0"], "needs training"),
        (["score", "6111", "--metrics", "lcsvr", "--epochs", "2"], "calibration set"),
        (["score", "6111", "--set", "proxies.names=['snipp']", "--epochs", "0"], "proxies.names: unknown ['snipp']"),
        (["run", "--preset", "smoke", "--set", "evaluation.calibration=1.5", "--out", "x"], "evaluation.calibration"),
        (
            ["score", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "--epochs", "0", "--metrics", "params"],
            "bad token",
        ),
        (["report", "/nonexistent/study"], "not found"),
    ],
)
def test_user_errors_are_one_clear_line(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_config_file_and_presets(tmp_path):
    path = tmp_path / "my.toml"
    path.write_text("[sample]\narchs = 7\n[train]\nepochs = 1\n")
    cfg = config.load(path=path, overrides=["data.split=cifar10"])
    assert (
        cfg["sample"]["archs"] == 7
        and cfg["data"]["split"] == "cifar10"
        and cfg["model"]["C"] == config.DEFAULTS["model"]["C"]
    )
    for preset in config.PRESETS:  # every preset loads, and what its file sets is what it gives
        written = config.preset_values(preset).get("model", {})
        assert config.load(preset)["model"]["N"] == written.get("N", config.DEFAULTS["model"]["N"])
    path.write_text("[sampel]\narchs = 7\n")
    with pytest.raises(config.ConfigError, match="unknown section 'sampel'"):
        config.load(path=path)


def test_data_command_lists_what_it_looks_for(capsys, data_root):
    assert cli.main(["data", "--data-root", str(data_root)]) == 0
    out = capsys.readouterr().out
    assert "[x]" in out and "cifar10-jpeg.tar.gz" in out and "nb201_merged.csv" in out


@pytest.mark.slow
def test_workers_store_every_architecture_once_and_fixed_threads_make_them_bit_identical(tmp_path, nb201_table):
    def run(out, *options):
        cmd = NBCAP + ["run", "--preset", "smoke", "--set", "sample.archs=4", "--set", "run.threads=1", *options]
        done = subprocess.run([*cmd, "--out", str(out)], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        with sqlite3.connect(out / "results.db") as conn:
            return conn.execute("SELECT arch_index, metrics, extra FROM records ORDER BY arch_index").fetchall()

    pooled, alone = run(tmp_path / "pool", "--workers", "2"), run(tmp_path / "alone")
    assert len({row[0] for row in pooled}) == 4
    assert [row[:2] for row in pooled] == [row[:2] for row in alone]
    assert all(json.loads(row[2])["threads"] == 1 for row in pooled + alone)


def test_a_resume_with_another_thread_count_says_so():
    from io import StringIO

    from nasbench_capacitance.store.records import Record
    from nasbench_capacitance.study import run

    stored = [Record(0, "x", extra={"threads": 2})]
    for threads, warned in ((2, False), (1, True)):
        stream = StringIO()
        run._warn_if_threads_change(stored, config.load("smoke", overrides=[f"run.threads={threads}"]), stream)
        assert ("--set run.threads=2 keeps the study bit-identical" in stream.getvalue()) == warned


def test_every_zero_cost_proxy_is_reachable_from_score(capsys):
    """The contract: ``nbcap score ARCH --metrics NAME --epochs 0 --json`` for every proxy."""
    from nasbench_capacitance import metrics

    proxies = metrics.available("init")
    argv = ["score", "6111", "--preset", "smoke", "--metrics", ",".join(proxies), "--epochs", "0", "--json"]
    assert cli.main(argv) == 0
    record = json.loads(capsys.readouterr().out)
    assert set(record["metrics"]) == set(proxies) and record["status"] == "ok"
    assert all(isinstance(v["0"], float) for v in record["metrics"].values())
    assert {f"zc_{p}" for p in proxies} <= set(record["timings"])
    assert cli.main(["score", "6111", "--preset", "smoke", "--metrics", "synflow", "--epochs", "0", "--json"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert alone["metrics"] == {"synflow": record["metrics"]["synflow"]}  # same seed, same score


def test_a_zero_cost_study_needs_no_training(tmp_path, nb201_table, capsys):
    out = tmp_path / "zc"
    assert (
        cli.main(["run", "--preset", "smoke", "--set", "train.epochs=0", "--set", "sample.archs=6", "--out", str(out)])
        == 0
    )
    table = capsys.readouterr().out
    assert "synflow" in table and "val_acc" not in table
    with open(out / "correlations.csv") as f:
        kinds = {row["kind"] for row in csv.DictReader(f)}
    assert kinds == {"arch", "init"}


@pytest.mark.slow
def test_ray_backend_stores_every_architecture_once_and_resumes_without_it(tmp_path, nb201_table):
    pytest.importorskip("ray")  # installed with the test extra, so CI runs this
    out = tmp_path / "ray"  # Ray's workers run niced: on a busy machine this takes minutes, hence the timeouts
    cmd = NBCAP + ["run", "--preset", "smoke", "--set", "sample.archs=4", "--set", "train.epochs=1", "--out", str(out)]
    done = subprocess.run(cmd + ["--ray", "local"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(out / "results.db") as conn:
        assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT arch_index) FROM records").fetchone() == (4, 4)
    # how a study ran is not part of its identity: the same study without Ray has nothing left to do
    again = subprocess.run(cmd + ["--workers", "2"], capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and "resuming: 4 of 4" in again.stderr


def test_evaluation_settings_never_retrain_and_the_report_takes_another_target(tmp_path, nb201_table, capsys):
    out = str(tmp_path / "s")
    base = ["run", "--preset", "smoke", "--set", "sample.archs=3", "--set", "train.epochs=1", "--out", out]
    assert cli.main(base) == 0
    capsys.readouterr()
    assert cli.main(base + ["--set", "evaluation.bootstrap=50", "--set", "ground_truth.target=c10_test_200"]) == 0
    captured = capsys.readouterr()
    assert "resuming: 3 of 3" in captured.err and "cifar10 / ori-test / 200 epochs" in captured.out
    assert cli.main(["report", out, "--set", "ground_truth.target=c100_test_200"]) == 0
    assert "ground truth: cifar100 / x-test / 200 epochs" in capsys.readouterr().out
    assert cli.main(["report", out, "--set", "train.epochs=3"]) == 2
    assert "a report only takes ground_truth.* and evaluation.* settings" in capsys.readouterr().err


def test_ray_without_a_cluster_is_one_clear_error(tmp_path, capsys, monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    argv = ["run", "--preset", "smoke", "--set", "sample.archs=1", "--ray", "auto", "--out", str(tmp_path / "r")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "no Ray cluster at 'auto'" in err and "--ray local" in err and "Traceback" not in err


SEARCH = ["search", "--budget", "1000", "--out", "{tmp}/s"]
BAD_INPUTS = [  # (argv with {tmp} for the test's folder, what the message must name)
    ([*SEARCH, "--algorithm", "bayes"], "unknown algorithm 'bayes'; choose from random, rea"),
    ([*SEARCH, "--algorithm", "rea", "--budget", "-5"], "give positive, finite simulated seconds"),
    ([*SEARCH, "--algorithm", "rea", "--dataset", "mnist"], "the search has ground truth for: cifar10"),
    ([*SEARCH, "--algorithm", "proxy", "--proxy", "beta_ridge"], "beta_ridge is fitted on a calibration set"),
    ([*SEARCH, "--algorithm", "warmup"], "warmup needs a proxy: add --proxy METRIC"),
    ([*SEARCH, "--algorithm", "proxy", "--proxy", "nowt"], "unknown metric 'nowt'"),
    ([*SEARCH, "--algorithm", "proxy", "--proxy", "nwot", "--param", "cells=0"], "cells (random cells the proxy"),
    ([*SEARCH, "--algorithm", "rea", "--out", "{tmp}/damaged"], "is not a search store this tool can open"),
    (
        ["run", "--preset", "smoke", "--set", "train.batch_size=0", "--out", "{tmp}/s"],
        "train.batch_size must be at least 1",
    ),
    (["run", "--preset", "smoke", "--set", "train.lr=0", "--out", "{tmp}/s"], "train.lr must be > 0"),
    (["run", "--preset", "smoke", "--set", "data.train_images=30000", "--out", "{tmp}/s"], "between 0 (all) and 25000"),
    (["run", "--preset", "smoke", "--set", "data.valid_images=-5", "--out", "{tmp}/s"], "data.valid_images must be"),
    (
        ["run", "--preset", "smoke", "--set", "ground_truth.target=nope", "--out", "{tmp}/s"],
        "unknown ground-truth target",
    ),
    (["run", "--preset", "smoke", "--ray", "bogus://x", "--out", "{tmp}/s"], "run.ray (--ray) must be local, auto"),
    (["run", "--preset", "smoke", "--out", "{tmp}/file.txt"], "is a file; give a folder"),
    (["run", "--preset", "smoke", "--config", "{tmp}", "--out", "{tmp}/s"], "is a folder; give a TOML file"),
    (["run", "--config", "{tmp}/table.toml", "--out", "{tmp}/s"], "sample must be a table of keys"),
    (["report", "{tmp}/damaged"], "is not a results store this tool can open"),
    (["run", "--preset", "smoke", "--out", "{tmp}/damaged"], "left as it is"),
    (["score", "-1", "--metrics", "params", "--epochs", "0"], "out of range 0..15624"),
    (
        ["score", "6111", "--metrics", "params", "--epochs", "-1"],
        "train.epochs must be at least 0 (0: zero-cost proxies only",
    ),
    (
        [
            "run",
            "--preset",
            "smoke",
            "--set",
            "data.data_root='{tmp}/nodata'",
            "--set",
            "ground_truth.table='{table}'",
            "--out",
            "{tmp}/s",
        ],  # fmt: skip
        "nbcap data --download",
    ),
    # a store of another kind of job, or a study of another configuration, is never written to
    (["run", "--preset", "smoke", "--out", "{tmp}/space"], "holds a whole-space scoring (nbcap space), not a study"),
    (["run", "--preset", "smoke", "--out", "{tmp}/search"], "holds a search (nbcap search), not a study"),
    (
        ["run", "--preset", "smoke", "--set", "sample.archs=6", "--out", "{tmp}/study"],
        "holds a study of another configuration (differs in sample.archs: 5 -> 6); use another folder, or add --new",
    ),
    (["space", "--preset", "smoke", "--metrics", "params", "--out", "{tmp}/study"], "not a whole-space scoring"),
    (
        [*SEARCH[:-1], "{tmp}/study", "--algorithm", "rea"],
        "holds a study (nbcap run, or a Scorer's store), not a search",
    ),
    (["report", "{tmp}/search"], "is a search (nbcap search): its report is"),
    (["report", "{tmp}/file.txt"], "takes a study's folder (the --out of nbcap run or space), not a file"),
    # every search ends
    (
        [*SEARCH, "--algorithm", "proxy", "--proxy", "nwot", "--pool", "{tmp}/space"],
        "--pool takes the folder of a study",
    ),
    ([*SEARCH, "--algorithm", "rea", "--budget", "1e12"], "training every one of the 15625 cells once costs"),
    ([*SEARCH, "--algorithm", "rea", "--budget", "inf"], "give positive, finite simulated seconds"),
    ([*SEARCH, "--algorithm", "rea", "--table", "{tmp}/gappy.csv"], "lacks the 12-epoch signal"),
    # messages that name what is wrong, all of it
    (["score", "6111.0", "--metrics", "params", "--epochs", "0"], "an NB201 index is a whole number 0..15624"),
    (["score", "6111", "--metrics", "fooo,params,barr", "--epochs", "0"], "unknown metrics 'fooo', 'barr'"),
]


def _stores(tmp_path, nb201_table) -> None:
    """A whole-space scoring's, a study's and a search's folder, and a ground-truth table missing cells' costs."""
    from nasbench_capacitance.search.study import SearchStore
    from nasbench_capacitance.store import identity
    from nasbench_capacitance.store.results import ResultStore

    cfg = config.load("smoke")
    for name, study in (("space", identity.space_scoring(cfg, ["params"], False)), ("study", identity.study(cfg))):
        (tmp_path / name).mkdir()
        with ResultStore(tmp_path / name / "results.db") as store:
            store.start_run(study, {})
    (tmp_path / "search").mkdir()
    with SearchStore(tmp_path / "search" / "search.db"):
        pass
    opener = gzip.open if nb201_table.suffix == ".gz" else open
    with opener(nb201_table, "rt") as f:
        lines = f.read().splitlines()
    header = lines[0].split(",")
    cost = header.index("c10valid_cost_12_s")
    gappy = [lines[0]] + [
        ",".join("" if (i < 50 and c == cost) else v for c, v in enumerate(line.split(",")))
        for i, line in enumerate(lines[1:])
    ]
    (tmp_path / "gappy.csv").write_text("\n".join(gappy) + "\n")


@pytest.mark.parametrize("argv, message", BAD_INPUTS)
def test_bad_inputs_are_refused_before_any_work_with_the_fix(argv, message, tmp_path, capsys, nb201_table):
    (tmp_path / "file.txt").write_text("not a folder")
    (tmp_path / "table.toml").write_text("sample = 3\n")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for name in ("results.db", "search.db"):
        (damaged / name).write_bytes(b"this is not an SQLite file" * 10)
    before = (damaged / "results.db").read_bytes()
    _stores(tmp_path, nb201_table)
    kept = {p: p.read_bytes() for p in tmp_path.glob("*/*.db")}
    table = str(nb201_table)
    assert cli.main([a.replace("{tmp}", str(tmp_path)).replace("{table}", table) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.startswith("nbcap ") and err.count("error:") == 1
    for name in ("results.db", "search.db"):
        assert (damaged / name).read_bytes() == before  # a damaged store is never overwritten
    assert all(p.read_bytes() == data for p, data in kept.items())  # nor another job's store
    assert not (tmp_path / "s").exists()  # no litter from a refused invocation


@pytest.mark.parametrize("workers", ["0", "-1", "two"])
def test_workers_must_be_a_positive_count(workers, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "--preset", "smoke", "--workers", workers, "--out", "x"])
    assert exit_info.value.code == 2 and "at least 1" in capsys.readouterr().err


@pytest.mark.slow
def test_sigterm_saves_finished_work_and_says_how_to_resume(tmp_path, nb201_table):
    out = tmp_path / "study"
    cmd = NBCAP + ["run", "--preset", "smoke", "--set", "sample.archs=6", "--out", str(out)]
    proc = start_until(cmd, out / "results.db", after=1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "run the same command to resume" in err and "Traceback" not in err
    kept = count_records(out / "results.db")
    assert kept >= 1
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and f"resuming: {kept} of 6" in done.stderr


@pytest.mark.slow
def test_one_writer_per_study_and_readers_never_block(tmp_path, nb201_table):
    out = tmp_path / "study"
    cmd = NBCAP + ["run", "--preset", "smoke", "--set", "sample.archs=6", "--out", str(out)]
    first = start_until(cmd, out / "results.db", after=1)
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert second.returncode == 2 and f"another nbcap process (pid {first.pid})" in second.stderr
    report = subprocess.run(NBCAP + ["report", str(out), "--no-figures"], capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr  # a reader while the writer runs
    first.send_signal(signal.SIGKILL)
    first.wait()
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=300)  # a killed writer never blocks
    assert resumed.returncode == 0 and "resuming:" in resumed.stderr
    assert all(n == 1 for n in records_per_index(out / "results.db").values())


def test_report_reproduces_the_table_its_run_printed(tmp_path, nb201_table):
    out = tmp_path / "study"
    settings = ["--set", "ground_truth.target=c10_test_200", "--set", "evaluation.bootstrap=50"]
    run = subprocess.run(
        NBCAP + ["run", "--preset", "smoke", "--set", "sample.archs=6", "--set", "train.epochs=1", *settings,
                 "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    again = subprocess.run(NBCAP + ["report", str(out), "--no-figures"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stdout == run.stdout and "c10_test_200" in again.stdout
    changed = subprocess.run(
        NBCAP + ["report", str(out), "--no-figures", "--set", "ground_truth.target=c100_test_200"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "report settings changed from the study's: ground_truth.target=c100_test_200" in changed.stdout


def test_a_second_study_needs_new_run_and_a_report_names_the_others_and_what_is_missing(tmp_path, capsys):
    out = str(tmp_path / "s")
    base = ["run", "--preset", "smoke", "--set", "sample.archs=3", "--set", "train.epochs=1", "--out", out]
    assert cli.main(base) == 0
    assert cli.main([*base[:-2], "--set", "sample.archs=2", "--out", out]) == 2
    assert "add --new-run" in capsys.readouterr().err
    assert cli.main([*base[:-2], "--set", "sample.archs=2", "--new-run", "--out", out]) == 0
    assert "the folder holds 2 studies; this report is run 2 (runs 1 besides: --run ID)" in capsys.readouterr().out
    with sqlite3.connect(tmp_path / "s" / "results.db") as conn:  # as a run killed after its first cell leaves it
        conn.execute("DELETE FROM records WHERE run_id = 1 AND arch_index != (SELECT MIN(arch_index) FROM records)")
    assert cli.main(["report", out, "--run", "1", "--no-figures"]) == 0
    assert "the study is unfinished: 1 of its 3 architectures are stored, 2 missing" in capsys.readouterr().out


@pytest.mark.slow
def test_workers_never_outlive_their_killed_driver(tmp_path, nb201_table):
    cmd = NBCAP + ["space", "--preset", "smoke", "--indices", "0:400", "--workers", "2", "--out", str(tmp_path)]
    proc = start_until(cmd, tmp_path / "results.db", after=1)
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert children, "the driver should have started its workers"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and any(Path(f"/proc/{pid}").exists() for pid in children):
        time.sleep(0.2)
    alive = [pid for pid in children if Path(f"/proc/{pid}").exists()]
    assert not alive, f"workers {alive} outlived their driver"
