import csv
import math

from nasbench_capacitance.store.results import ResultStore, load_records


def record(i, status="ok"):
    return {
        "index": i,
        "arch_str": f"arch{i}",
        "status": status,
        "reason": None if status == "ok" else "nan loss",
        "metrics": {"val_acc": {"1": 40.0 + i, "2": 50.0 + i}, "beta_weight": {"0": float("nan")}},
        "timings": {"compute": 1.5},
    }


def test_records_are_written_once_and_resume_is_trivial(tmp_path):
    path = tmp_path / "study.db"
    with ResultStore(path) as store:
        run = store.start_run({"preset": "smoke", "seed": 0}, {"torch": "x"})
        assert store.add_record(run, record(1))
        assert not store.add_record(run, record(1))  # never twice
        assert store.add_record(run, record(2, "diverged"))
        other = store.start_run({"preset": "smoke", "seed": 1}, {})
        assert other != run and store.done(other) == set()
    with ResultStore(path) as store:
        assert store.start_run({"seed": 0, "preset": "smoke"}, {"ignored": True}) == run  # same config: same run
        assert store.done(run) == {1, 2}
        recs = store.records(run)
        assert recs[0]["metrics"]["val_acc"] == {"1": 41.0, "2": 51.0}
        assert math.isnan(recs[0]["metrics"]["beta_weight"]["0"])
        assert recs[1]["status"] == "diverged" and recs[1]["reason"] == "nan loss"
        out = store.export_csv(run, tmp_path / "records.csv")
    rows = list(csv.DictReader(open(out)))
    assert rows[0]["val_acc@2"] == "51.0" and rows[0]["beta_weight@0"] == "" and rows[1]["time_compute"] == "1.5"
    run_info, recs = load_records(path, run)
    assert run_info["config"] == {"preset": "smoke", "seed": 0} and len(recs) == 2


def test_a_record_reads_its_scores_and_round_trips(tmp_path):
    from nasbench_capacitance.store.records import Record

    r = Record(7, "arch7", "ok", None, {"val_acc": {"1": 40.0, "2": 50.0}, "lce": {"2": math.nan}}, {"wall": 1.0})
    assert r.score("val_acc", 2) == 50.0 and r.score("val_acc", "1") == 40.0
    assert math.isnan(r.score("val_acc", 3)) and math.isnan(r.score("lce", 2)) and math.isnan(r.score("nope"))
    assert r.budgets("val_acc") == ["1", "2"] and r["metrics"] is r.metrics and r.get("missing", 5) == 5
    with ResultStore(tmp_path / "s.db") as store:
        run = store.start_run({"seed": 0}, {})
        store.add_record(run, r)
        (back,) = store.records(run)
    assert back.score("val_acc", 2) == 50.0 and math.isnan(back.score("lce", 2)) and back.timings == {"wall": 1.0}
