"""The CUDA paths: the same results on a GPU as on the CPU. Skipped without one (CI has none);
``scripts/gpu_check.sh`` runs them first on a GPU machine (``pytest -m cuda``)."""

import math

import pytest
import torch

from nasbench_capacitance import config, metrics
from nasbench_capacitance.capacitance import kernel
from nasbench_capacitance.data import cifar10
from nasbench_capacitance.metrics import zero_cost
from nasbench_capacitance.nb201 import space
from nasbench_capacitance.study.evaluate import evaluate_architecture, prepare_data

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU"),
]
ROBUST = ["synflow", "nwot", "jacob_cov", "snip", "grad_norm", "l2_norm", "az_expressivity", "swap"]


@pytest.fixture(scope="module")
def images(cifar_cache):
    def on(device: str):
        return cifar10.prepare(
            "cifar10-valid", data=cifar_cache, device=device, resolution=8, train_subset=200, valid_subset=50
        ).train

    return on


def test_proxies_score_the_same_on_the_gpu(images):
    arch = space.arch_from_index(6111)
    values = {}
    for device in ("cpu", "cuda"):
        setup = zero_cost.make_setup(arch, images(device), C=4, N=1, batch_size=16, seed=3)
        values[device] = {n: v["0"] for n, v in metrics.score(metrics.available("init"), None, arch, setup).items()}
    assert all(math.isfinite(v) for v in values["cuda"].values())
    for name in ROBUST:  # the data flow is the same; float rounding differs, so compare the stable ones
        assert values["cuda"][name] == pytest.approx(values["cpu"][name], rel=2e-2), name


def test_the_kernel_gives_the_same_beta_on_the_gpu():
    g = torch.Generator().manual_seed(0)
    weights = [torch.randn(3, 8, 6, generator=g), torch.randn(3, 5, 8, generator=g)]
    cpu = kernel.beta_eff(weights)
    gpu = kernel.beta_eff([w.cuda() for w in weights])
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-5, atol=1e-8)


def test_an_architecture_trains_and_scores_on_the_gpu():
    cfg = config.load("smoke", overrides=["run.device=cuda", "train.epochs=1"])
    record = evaluate_architecture(6111, cfg, prepare_data(cfg))
    assert record["status"] == "ok", record["reason"]
    assert 0 <= record.score("val_acc", 1) <= 100 and math.isfinite(record.score("beta_gradient", 1))
