import numpy as np
import pytest

from nasbench_capacitance.evaluation import ablation
from nasbench_capacitance.store.records import Record
from nasbench_capacitance.whole_space.table import reference_table


def _blocks(rng: np.random.Generator, n: int, beta_signal: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Final accuracy = free signal + beta_signal · hidden factor + noise; the β block sees the hidden factor."""
    free = rng.normal(size=(n, 3))
    hidden = rng.normal(size=n)
    accuracy = free[:, 0] + beta_signal * hidden + 0.3 * rng.normal(size=n)
    blocks = {"free": free, "curve": rng.normal(size=(n, 2)), "beta": np.column_stack([hidden, rng.normal(size=n)])}
    return blocks, accuracy


def _increment(rows: list[ablation.AblationRow], size: int) -> ablation.AblationRow:
    (row,) = [r for r in rows if r.calibration == size and r.features == "free+curve+beta − free+curve"]
    return row


def test_an_informative_beta_block_raises_tau_with_an_interval_above_zero():
    blocks, accuracy = _blocks(np.random.default_rng(0), 120, beta_signal=1.0)
    rows = ablation.ablate(blocks, accuracy, sizes=(50,), models=("ridge",), repeats=4, resamples=200)
    row = _increment(rows, 50)
    assert row.held_out == 70 and row.draws == 4
    assert row.tau > 0.1 and row.low > 0


def test_a_noise_beta_block_adds_nothing():
    blocks, accuracy = _blocks(np.random.default_rng(1), 120, beta_signal=0.0)
    blocks["beta"] = np.random.default_rng(2).normal(size=(120, 2))
    rows = ablation.ablate(blocks, accuracy, sizes=(50,), models=("ridge", "forest"), repeats=4, resamples=200)
    for model in ("ridge", "forest"):
        row = next(r for r in rows if r.model == model and r.features == "free+curve+beta − free+curve")
        assert abs(row.tau) < 0.08 and row.low < 0.02


def test_sizes_leaving_too_few_held_out_cells_are_skipped_and_missing_features_are_imputed():
    blocks, accuracy = _blocks(np.random.default_rng(3), 60, beta_signal=1.0)
    blocks["beta"][::7, 0] = np.nan  # a failed β snapshot
    rows = ablation.ablate(blocks, accuracy, sizes=(10, 50), models=("ridge",), repeats=2, resamples=50)
    assert {r.calibration for r in rows} == {10}
    assert all(np.isfinite(r.tau) for r in rows)
    with pytest.raises(ValueError, match="choose from"):
        ablation.make_model("svm", 0)


def _record(index: int, beta: list[float], val_acc: list[float]) -> Record:
    metrics = {
        "beta_weight": {str(e): b for e, b in enumerate(beta)},
        "val_acc": {str(e + 1): a for e, a in enumerate(val_acc)},
        "tse_e": {str(e + 1): -1.0 / (e + 1) for e in range(len(val_acc))},
    }
    return Record(index=index, arch_str="", status="ok", reason=None, metrics=metrics, timings={}, extra={})


def test_feature_blocks_read_the_trajectory_the_curves_and_the_whole_space_table():
    records = [_record(0, [0.1, 0.3, 0.4, 0.5], [20, 30, 35]), _record(1, [0.2, 0.2], [10, 12, 13])]
    beta = ablation.beta_block(records)
    # snapshots (padded to the longest), change over the first epoch, slope after it
    np.testing.assert_allclose(beta[0], [0.1, 0.3, 0.4, 0.5, 0.2, 0.1])
    assert np.isnan(beta[1, 2:4]).all() and beta[1, 4] == 0 and np.isnan(beta[1, 5])
    np.testing.assert_allclose(ablation.beta_init_block(records), [[0.1], [0.2]])
    assert ablation.curve_block(records).shape == (2, 12)
    table = reference_table()
    free, names = ablation.free_block([0, 6111], table)
    assert free.shape == (2, len(names)) and {"params", "flops", "synflow", "nwot"} <= set(names)
    _, names = ablation.free_block([0, 6111], {**table, "beta_init": table["nwot"]})  # a regenerated table
    assert "beta_init" not in names
    np.testing.assert_allclose(ablation.signed_log(np.array([-np.e + 1, 0, np.e - 1])), [-1, 0, 1])
    with pytest.raises(ValueError, match="train.strategies"):
        ablation.beta_block([Record(index=0, arch_str="", status="ok", reason=None, metrics={"val_acc": {"1": 20}})])
