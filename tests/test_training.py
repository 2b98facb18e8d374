import math

import pytest
import torch

from nasbench_capacitance import training
from nasbench_capacitance.data import cifar10
from nasbench_capacitance.nb201 import model
from nasbench_capacitance.training import TrainConfig

TINY = dict(C=2, N=2, head="probe", probe_widths=(6, 5))


@pytest.fixture(scope="module")
def tiny_data(cifar_cache):
    return cifar10.prepare("cifar10-valid", data=cifar_cache, resolution=8, train_subset=600, valid_subset=300)


def run(tiny_data, seed=0, **overrides):
    torch.manual_seed(seed)
    net = model.build_network(6111, **TINY)
    return training.train(net, tiny_data, TrainConfig(epochs=2, batch_size=128, probe_batch_size=64, **overrides), seed)


def test_curves_snapshots_and_timings_on_real_images(tiny_data):
    r = run(tiny_data, snapshot_every_steps=2)
    assert r.status == "ok" and r.epochs_completed == 2
    assert len(r.train_loss) == len(r.valid_acc) == len(r.valid_loss) == 2
    assert all(math.isfinite(v) and 0 < v < 5 for v in r.train_loss)
    assert 0 <= min(r.valid_acc) and max(r.valid_acc) <= 100
    # 5 steps per epoch: snapshots at init, steps 2 and 4, end of epoch 1 (step 5), steps 6 and 8, end of epoch 2.
    assert r.probe.steps == [0, 2, 4, 5, 6, 8, 10]
    assert r.probe.epochs == [0.0, 0.4, 0.8, 1.0, 1.2, 1.6, 2.0]
    assert r.probe.weights[1].shape == (7, 5, 6)
    assert r.probe.stats["gradient"]["inputs"][0].shape == (7, 64, 8)
    for strategy in ("weight", "gradient"):
        beta = r.probe.beta(strategy)
        assert beta.values.shape == (7,) and torch.isfinite(beta.values).all()
    assert set(r.timings) == {"data", "compute", "eval", "probe", "total"}
    assert sum(r.timings[p] for p in training.PHASES) <= r.timings["total"] * 1.01


def test_same_seed_same_record(tiny_data):
    a, b = run(tiny_data, seed=3), run(tiny_data, seed=3)
    assert a.train_loss == b.train_loss and a.valid_acc == b.valid_acc
    assert torch.equal(a.probe.weights[0], b.probe.weights[0])
    c = run(tiny_data, seed=4)
    assert c.train_loss != a.train_loss


def test_non_finite_loss_is_recorded_as_diverged(tiny_data):
    net = model.build_network(6111, **TINY)
    with torch.no_grad():
        net.head.layers[0].weight.fill_(float("inf"))
    r = training.train(net, tiny_data, TrainConfig(epochs=3, batch_size=128))
    assert r.status == "diverged" and r.diverged_epoch == 1 and r.epochs_completed == 0
    assert "non-finite" in r.reason and r.train_loss == []


def test_linear_head_trains_without_probe(tiny_data):
    net = model.build_network(6111, C=2, N=1)
    r = training.train(net, tiny_data, TrainConfig(epochs=1, batch_size=256, strategies=("weight",)))
    assert r.status == "ok" and r.probe is None


def test_cosine_schedule_and_config_checks(tiny_data):
    assert training.cosine_lr(0.1, 0, 100) == pytest.approx(0.1)
    assert training.cosine_lr(0.1, 50, 100) == pytest.approx(0.05)
    assert training.cosine_lr(0.1, 100, 100) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="train.batch_size must be at least 1"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="at least one epoch"):
        training.train(model.build_network(0, **TINY), tiny_data, TrainConfig(epochs=0))


def test_probe_input_with_batch_statistics_leaves_the_model_as_it_was(tiny_data):
    torch.manual_seed(0)
    net = model.build_network(6111, **TINY)
    x = tiny_data.train.fixed_batch(64, seed=0)[0]
    before = {k: v.clone() for k, v in net.state_dict().items()}
    eval_features = training.probe_features(net, x, "eval")
    batch_features = training.probe_features(net, x, "batch")
    assert net.training and all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
    # batch statistics standardise the last cell's output; running statistics at init do not
    assert not torch.allclose(eval_features, batch_features)
    stable = run(tiny_data, probe_input="batch")
    # the probe input changes what is measured, not training
    assert stable.train_loss == run(tiny_data, probe_input="eval").train_loss
    assert torch.isfinite(stable.probe.beta("gradient").values).all()
    with pytest.raises(ValueError, match="probe_input"):
        TrainConfig(probe_input="train")


def test_a_key_added_later_keeps_older_studies_resumable():
    from nasbench_capacitance import config
    from nasbench_capacitance.store.identity import config_of_study, study

    legacy = study(config.load("smoke", overrides=["train.probe_input=eval"]))
    assert "probe_input" not in legacy["train"]  # an identity as stored before the key existed
    assert config_of_study(legacy, "test").train.probe_input == "eval"
    # the default changed to batch: a new study names it, so it never resumes an old (eval) one
    assert study(config.load("smoke"))["train"]["probe_input"] == "batch"
    assert config.load("smoke").train.probe_input == TrainConfig().probe_input == "batch"


def test_bf16_autocast_trains_to_a_finite_loss_and_fp32_stays_exact(tiny_data):
    half = run(tiny_data, precision="bf16")
    assert half.status == "ok" and all(math.isfinite(v) for v in half.train_loss)
    assert half.train_loss != run(tiny_data).train_loss  # it did run in another precision
    assert half.probe.weights[0].dtype == torch.float32  # the probe's weights, and so β_eff, stay fp32
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp16")
