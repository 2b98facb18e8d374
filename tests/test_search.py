"""The NAS face: the Scorer, the NASLib/xautodl adapters, the simulated clock and the search algorithms."""

import csv
import json
import math
import sqlite3
import subprocess
import sys
import warnings
from io import StringIO

import numpy as np
import pytest
from helpers import kill_midway

from nasbench_capacitance import NaslibPredictor, Scorer, SimulatedAPI, cli, config
from nasbench_capacitance.nb201 import space
from nasbench_capacitance.search import ALGORITHMS, Benchmark, Simulation
from nasbench_capacitance.search.experiment import plan_search
from nasbench_capacitance.search.study import Setting, search_once
from nasbench_capacitance.store.results import load_records
from nasbench_capacitance.whole_space import table as shipped_table

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


class Structure:  # what xautodl's CellStructure offers us
    def tostr(self):
        return BEST


class Graph:  # what a NASLib NB201 graph offers us
    def get_op_indices(self):
        return space.Arch.from_string(BEST).to_naslib()


def test_every_way_of_naming_a_cell_reaches_the_same_cell():
    arch = space.Arch.from_string(BEST)
    for spec in (BEST, 6111, "6111", arch, arch.to_naslib(), list(arch.to_naslib()), Structure(), Graph()):
        assert space.Arch.parse(spec) == arch
    assert all(space.Arch.from_naslib(a.to_naslib()) == a for a in space.all_archs())
    # NASLib's string order, as documented with the offline ground truth: ops 0,1,3,2,4,5 of the tuple
    o = [space.NASLIB_OPS[k] for k in arch.to_naslib()]
    assert f"|{o[0]}~0|+|{o[1]}~0|{o[3]}~1|+|{o[2]}~0|{o[4]}~1|{o[5]}~2|" == BEST
    with pytest.raises(ValueError, match="6 ints in 0..4"):
        space.Arch.parse((0, 1, 2))
    with pytest.raises(ValueError, match="tostr"):
        space.Arch.parse(3.5)


def test_neighbours_are_the_24_one_edit_mutants():
    neighbours = space.neighbour_indices()
    for index in (0, 6111, 15624):
        ops = space.arch_from_index(index).ops
        rows = [space.arch_from_index(int(j)).ops for j in neighbours[index]]
        assert len(set(rows)) == 24 and all(sum(a != b for a, b in zip(ops, r)) == 1 for r in rows)


def test_scorer_reads_the_table_or_computes_the_same_score_live(cifar_cache):
    table = Scorer("nwot")
    assert table.source == "table" and table.get_data_reqs()["training"] is False
    live = Scorer("nwot", source="live")
    assert live.score(BEST) == pytest.approx(table.score(6111), rel=1e-6)
    assert live.cost.calls == 1 and live.cost.seconds > 0 and "cpu" in live.cost.device
    scores = table.query([0, BEST, Structure(), Graph()])
    assert scores.shape == (4,) and scores[1] == scores[2] == scores[3]
    assert table.cost.calls == 2 and table.seconds(6111) > 0  # the cache charges a cell once
    with pytest.raises(ValueError, match="not in a whole-space table for this configuration"):
        Scorer("val_acc", "smoke", source="table")


def test_a_proxy_registered_after_the_table_was_made_is_scored_live(monkeypatch):
    shipped = shipped_table.reference_columns()
    assert "nwot" in shipped and Scorer("nwot").source == "table"
    monkeypatch.setattr(shipped_table, "reference_columns", lambda *_: [c for c in shipped if c != "nwot"])
    assert Scorer("nwot").source == "live"
    with pytest.raises(ValueError, match="pass table=FILE"):
        Scorer("nwot", source="table")


def test_a_sample_table_serves_its_cells_and_the_others_are_scored_live(tmp_path, cifar_cache):
    path = tmp_path / "space.csv"
    rows = [f"{i},{space.arch_from_index(i).to_string()},{v},{a}" for i, v, a in ((3, 1.5, -2.0), (6111, 2.5, -1.0))]
    rows = [f"{row},0.25,0.5" for row in rows]
    path.write_text("index,arch_str,nwot,az_nas,time_az_expressivity,time_az_trainability\n" + "\n".join(rows) + "\n")
    nwot = Scorer("nwot", table=path)
    assert nwot.source == "table" and nwot.score(6111) == 2.5
    assert nwot.score(10) == pytest.approx(Scorer("nwot", source="live").score(10))  # not in the table: live
    aggregate = Scorer("az_nas", table=path)
    assert aggregate.query([3, 6111]).tolist() == [-2.0, -1.0]
    assert aggregate.seconds(3) == 0.75  # an aggregate costs its components' seconds
    with pytest.raises(ValueError, match="cell 10 is not in the table"):
        aggregate.score(10)
    with pytest.raises(ValueError, match="ranks its components over a population"):
        Scorer("az_nas", source="live")


def test_a_trained_metric_is_cached_in_a_store_that_nbcap_run_resumes(tmp_path, nb201_table):
    from nasbench_capacitance.study.run import run_study, sample

    cfg = config.load("smoke")
    first = sample(cfg)[0]
    scorer = Scorer("beta_weight", config=cfg, store=tmp_path)
    assert scorer.needs.training and scorer.get_data_reqs()["epochs"] == cfg.train.epochs
    value = scorer.score(first)
    again = Scorer("beta_weight", config=cfg, store=tmp_path)
    again._evaluate = None  # anything computed now would fail: the store must answer
    assert (again.score(first), again.seconds(first)) == (value, scorer.seconds(first))
    assert math.isfinite(value) and scorer.seconds(first) > 0
    stream = StringIO()
    run_study(cfg, tmp_path, stream=stream)
    assert f"resuming: 1 of {len(sample(cfg))}" in stream.getvalue()


def test_a_calibrated_metric_is_fitted_before_it_scores(cifar_cache):
    scorer = Scorer("beta_ridge", "smoke", overrides=["train.epochs=1"])
    assert scorer.get_data_reqs()["calibration"] is True
    with pytest.raises(ValueError, match="call fit"):
        scorer.score(6111)
    cells = space.sample_indices(8, seed=3)
    predictor = NaslibPredictor(scorer)
    predictor.fit(cells, np.linspace(50, 90, len(cells)))
    assert np.isfinite(predictor.query([6111, 0])).all()


def test_naslib_predictor_contract_without_naslib():
    predictor = NaslibPredictor(Scorer("synflow"))
    predictor.set_ss_type("nasbench201")
    predictor.pre_process()
    predictor.pre_compute([Graph()], [0, 1])
    assert predictor.scorer.cost.calls == 3
    assert predictor.fit([Graph()], [94.0]) is None  # zero-cost: nothing to fit
    out = predictor.query([Graph(), 0, 1])
    assert isinstance(out, np.ndarray) and out.shape == (3,) and predictor.scorer.cost.calls == 3
    reqs = predictor.get_data_reqs()
    assert {"requires_partial_lc", "metric", "requires_hyperparameters", "hyperparams", "unlabeled"} <= set(reqs)
    assert not predictor.requires_partial_training([0])
    with pytest.raises(ValueError, match="NAS-Bench-201"):
        predictor.set_ss_type("nasbench301")


def test_xautodl_simulate_train_eval_contract_without_xautodl(nb201_table):
    api = SimulatedAPI(nb201_table)
    bench = Benchmark(nb201_table)
    acc, latency, cost, total = api.simulate_train_eval(Structure(), "cifar10", hp="12")
    assert acc == bench.signal[6111] and cost == bench.cost[6111] == total and math.isnan(latency)
    _, _, cost0, total = api.simulate_train_eval(0, "cifar10-valid")
    assert total == pytest.approx(cost + cost0)
    api.reset_time()
    assert api.used_time == 0 and api.query_index_by_arch(Structure()) == 6111
    assert api.get_more_info(6111, "cifar10", hp="200")["test-accuracy"] == pytest.approx(94.373, abs=1e-3)
    proxy = SimulatedAPI(nb201_table, Scorer("nwot"))
    score, _, seconds, _ = proxy.simulate_train_eval(BEST, "cifar10")
    assert score == Scorer("nwot").score(6111) and 0 < seconds < 5
    with pytest.raises(ValueError, match="hp='12'"):
        api.simulate_train_eval(BEST, "cifar10", hp="200")


def test_the_clock_charges_what_the_protocol_says(nb201_table):
    bench = Benchmark(nb201_table)
    sim = Simulation(bench, horizon=500, scorer=Scorer("nwot"))
    sim.train(6111)
    sim.proxy(0)
    sim.proxy(0)  # a cell's proxy score is charged once per search
    assert sim.clock == pytest.approx(bench.cost[6111] + Scorer("nwot").seconds(0))
    assert sim.trajectory.returned == [(bench.cost[6111], 6111)] and sim.trajectory.proxy_calls == 1
    assert sim.trajectory.returned_at(bench.cost[6111] - 1) is None
    c100 = Benchmark(nb201_table, "cifar100")
    assert c100.unit == "evaluations" and c100.cost[6111] == 1 and c100.optimum == pytest.approx(73.51, abs=0.01)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_every_algorithm_searches_within_its_budget_and_the_seed_fixes_the_result(name, nb201_table):
    bench = Benchmark(nb201_table)
    params = {**ALGORITHMS[name].defaults}
    params.update({k: v for k, v in {"warmup": 200, "cells": 50}.items() if k in params and params[k]})
    proxy = "nwot" if ALGORITHMS[name].uses_proxy else None
    setting = Setting(name, proxy, "cifar10", 2000.0, params)
    scorer = Scorer("nwot") if proxy else None
    runs = [search_once(setting, seed, bench, scorer) for seed in (0, 0, 1)]
    assert runs[0] == runs[1] and runs[0] != runs[2]
    for t in runs:
        returned = t.returned_at(2000)
        assert returned is not None
        assert all(clock <= t.clock for clock, _, _ in t.trained)
        if t.trained:  # trained searches return their best 12-epoch cell seen within the budget
            seen = [(s, i) for clock, i, s in t.trained if clock <= 2000]
            assert bench.signal[returned] == max(s for s, _ in seen)


def test_regularized_evolution_beats_random_search_over_100_seeds(nb201_table):
    plan = plan_search(["random", "rea"], [], [20000], 100, table=nb201_table)
    bench = plan.bench
    means = {}
    for setting in plan.settings:
        accs = [bench.test[search_once(setting, s, bench, None).returned_at(20000)] for s in range(100)]
        means[setting.algorithm] = np.mean(accs)
    assert means["rea"] > means["random"] > 93.0


def test_search_command_writes_summary_figure_and_resumes(tmp_path, nb201_table):
    argv = ["search", "--algorithm", "random,proxy", "--proxy", "nwot", "--param", "cells=10,30"]
    argv += ["--budget", "1000,3000", "--seeds", "4", "--table", str(nb201_table), "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    rows = (tmp_path / "summary.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert {"algorithm", "proxy", "budget", "n", "mean", "std", "ci95_low", "ci95_high"} <= set(header)
    assert len(rows) == 1 + 2 * 3  # random, proxy(cells=10), proxy(cells=30) at two budgets
    assert (tmp_path / "search_cifar10.png").stat().st_size > 10_000
    table = (tmp_path / "summary.md").read_text().splitlines()
    assert table[0].startswith("| search (cifar10, 4 seeds) | 1000s | 3000s |") and table[-1].startswith("| optimum")
    argv[argv.index("4")] = "6"
    more = subprocess.run([sys.executable, "-m", "nasbench_capacitance.cli", *argv], capture_output=True, text=True)
    assert more.returncode == 0, more.stderr
    with sqlite3.connect(tmp_path / "search.db") as conn:
        counts = conn.execute("SELECT setting_id, COUNT(*), COUNT(DISTINCT seed) FROM searches GROUP BY 1").fetchall()
    assert [c[1:] for c in counts] == [(6, 6)] * 3
    assert "resuming: 12 of 18 searches already in" in more.stderr  # only the new seeds ran
    assert cli.main([*argv, "--first-seed", "6"]) == 0  # seeds 6..11: six new searches per setting
    with open(tmp_path / "summary.csv") as f:
        assert [row["n"] for row in csv.DictReader(f)] == ["6"] * 6
    settings = [
        json.loads(s) for (s,) in sqlite3.connect(tmp_path / "search.db").execute("SELECT setting FROM settings")
    ]
    assert {s["proxy_scoring"].get("source") for s in settings} == {None, "table"}


@pytest.mark.slow
def test_a_killed_search_resumes_without_losing_or_repeating_a_seed(tmp_path, nb201_table):
    cmd = [sys.executable, "-m", "nasbench_capacitance.cli", "search", "--algorithm", "predictor", "--budget", "3000"]
    cmd += ["--seeds", "40", "--table", str(nb201_table), "--out", str(tmp_path)]
    killed_at = kill_midway(cmd, tmp_path / "search.db", after=3, table="searches")
    assert 3 <= killed_at < 40, "the search should be killed midway"
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"resuming: {killed_at} of 40 searches already in" in done.stderr
    with sqlite3.connect(tmp_path / "search.db") as conn:
        assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT seed) FROM searches").fetchone() == (40, 40)


def test_a_pool_restricts_the_search_to_a_study_and_reads_its_scores(tmp_path, nb201_table):
    from nasbench_capacitance.study.run import run_study, sample

    cfg = config.load("smoke", overrides=["sample.archs=6"])
    run_study(cfg, tmp_path / "study", stream=StringIO())
    plan = plan_search(["proxy"], ["beta_weight"], [500], 5, params={"cells": [3]}, pool=tmp_path / "study")
    chosen = {
        search_once(plan.settings[0], s, plan.bench, plan.scorers["beta_weight"]).returned_at(500) for s in range(5)
    }
    assert chosen <= set(sample(cfg))
    with pytest.raises(ValueError, match="more than the 6 cells of --pool"):
        plan_search(["proxy"], ["nwot"], [10], 5, params={"cells": [7]}, pool=tmp_path / "study")
    with pytest.raises(ValueError, match="need the whole space"):
        plan_search(["rea"], [], [10], 5, pool=tmp_path / "study")


def test_summaries_are_honest_about_few_seeds_and_repeat_no_budget(tmp_path, nb201_table, capsys):
    argv = ["search", "--algorithm", "rea", "--budget", "1000,3000,1000", "--table", str(nb201_table)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "Degrees of freedom <= 0" must not appear
        assert cli.main([*argv, "--seeds", "1", "--out", str(tmp_path / "one")]) == 0
    printed = capsys.readouterr().err
    assert "nan" not in printed and "(1 seed)" in printed
    with open(tmp_path / "one" / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["budget"] for r in rows] == ["1000.0", "3000.0"] and rows[0]["ci95_low"] == ""
    assert "± " not in (tmp_path / "one" / "summary.md").read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cli.main([*argv, "--seeds", "2", "--out", str(tmp_path / "two")]) == 0
    with open(tmp_path / "two" / "summary.csv") as f:
        assert all(0 <= float(r["ci95_low"]) <= float(r["ci95_high"]) <= 100 for r in csv.DictReader(f))


def test_a_live_trained_proxy_states_its_cost_and_keeps_every_cell_it_trained(tmp_path, nb201_table, capsys):
    argv = ["search", "--algorithm", "warmup", "--proxy", "val_acc", "--param", "warmup=4", "--preset", "smoke"]
    argv += ["--budget", "600", "--seeds", "2", "--table", str(nb201_table), "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "val_acc is scored live (a training run per cell)" in err and "up to 8 cells" in err
    _, records = load_records(tmp_path / "proxy-cache")  # the 8 warm-up cells at most, and the one measured
    assert 1 <= len(records) <= 9 and all("val_acc" in r["metrics"] for r in records)
    assert cli.main(argv) == 0  # nothing trained again: the stored cells serve the scorer
    assert len(load_records(tmp_path / "proxy-cache")[1]) == len(records)
