"""Zero-cost proxies: each against an independent implementation of its reference definition."""

import json
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, jvp
from torch.nn import functional as F

from nasbench_capacitance import metrics
from nasbench_capacitance.capacitance.probe import CapacitanceProbe, ProbeRecorder
from nasbench_capacitance.data import cifar10
from nasbench_capacitance.evaluation import ranking
from nasbench_capacitance.metrics import zero_cost
from nasbench_capacitance.nb201 import space


def mlp(bias: bool = True) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(12, 7, bias=bias), nn.ReLU(), nn.Linear(7, 6, bias=bias), nn.ReLU(), nn.Linear(6, 3, bias=bias)
    )


def batch(n: int = 16) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(n, 12, generator=g), torch.randint(0, 3, (n,), generator=g))]


def weight_names(net: nn.Module) -> list[str]:
    return [f"{i}.weight" for i, m in enumerate(net) if isinstance(m, nn.Linear)]


def loss_of_weights(net: nn.Module, x: torch.Tensor, y: torch.Tensor):
    """Mean cross-entropy as a function of the weight matrices alone (biases fixed)."""
    names = weight_names(net)

    def loss(*ws):
        return F.cross_entropy(functional_call(net, dict(zip(names, ws)), (x,)), y)

    return loss, [dict(net.named_parameters())[n].detach() for n in names]


def test_snip_is_the_gradient_of_a_ones_mask():
    net, [(x, y)] = mlp(), batch()
    names = weight_names(net)
    params = dict(net.named_parameters())
    masks = [torch.ones_like(params[n], requires_grad=True) for n in names]
    out = functional_call(net, {n: params[n].detach() * m for n, m in zip(names, masks)}, (x,))
    F.cross_entropy(out, y).backward()
    expected = sum(float(m.grad.abs().sum()) for m in masks)
    assert zero_cost.measure("snip")(mlp(), batch(), None) == pytest.approx(expected, rel=1e-6)


def test_grasp_is_minus_theta_hessian_gradient():
    net, [(x, y)] = mlp(), batch()
    loss, ws = loss_of_weights(net, x, y)
    grads_fn = grad(loss, argnums=tuple(range(len(ws))))
    g = grads_fn(*ws)
    _, hg = jvp(grads_fn, tuple(ws), tuple(g))
    expected = -sum(float((w * h).sum().detach()) for w, h in zip(ws, hg))
    assert zero_cost.measure("grasp")(mlp(), batch(), None) == pytest.approx(expected, rel=1e-5)


def test_fisher_is_fan_in_weighted_channel_information():
    net, [(x, y)] = mlp(), batch()
    outputs, h = [], x
    for m in net:
        h = m(h)
        if isinstance(m, nn.Linear):
            outputs.append(h)
    grads = torch.autograd.grad(F.cross_entropy(h, y), outputs)
    layers = [m for m in net if isinstance(m, nn.Linear)]
    expected = sum(
        float((0.5 * (a.detach() * g).pow(2).mean(0)).sum()) * m.in_features for a, g, m in zip(outputs, grads, layers)
    )
    assert zero_cost.measure("fisher")(mlp(), batch(), None) == pytest.approx(expected, rel=1e-5)


def test_grad_norm_sums_per_layer_norms_and_plain_is_signed():
    net, [(x, y)] = mlp(), batch()
    loss, ws = loss_of_weights(net, x, y)
    g = grad(loss, argnums=tuple(range(len(ws))))(*ws)
    assert zero_cost.measure("grad_norm")(mlp(), batch(), None) == pytest.approx(
        sum(float(t.detach().norm()) for t in g), rel=1e-6
    )
    assert zero_cost.measure("plain")(mlp(), batch(), None) == pytest.approx(
        sum(float((t.detach() * w).sum()) for t, w in zip(g, ws)), rel=1e-5
    )


def test_synflow_obeys_its_conservation_law():
    # Bias-free linear chain with |θ| and an all-ones input: every layer's Σ θ ∂R/∂θ equals R.
    net = mlp(bias=False)
    w = [m.weight.detach().abs().double() for m in net if isinstance(m, nn.Linear)]
    r = float((w[2] @ w[1] @ w[0] @ torch.ones(12, dtype=torch.float64)).sum())
    assert zero_cost.measure("synflow")(mlp(bias=False), batch(), None) == pytest.approx(math.log(3 * r), rel=1e-12)


def per_sample_jacobian(net: nn.Module, x: torch.Tensor) -> np.ndarray:
    return np.stack([torch.autograd.functional.jacobian(lambda v: net(v[None]).sum(), xi).numpy() for xi in x]).astype(
        float
    )


def test_jacob_cov_and_epe_nas_follow_the_reference_formulas():
    net, [(x, y)] = mlp(), batch(24)
    j = per_sample_jacobian(net, x)
    eig = np.linalg.eig(np.corrcoef(j))[0].real
    expected = -np.sum(np.log(eig + 1e-5) + 1.0 / (eig + 1e-5))
    assert zero_cost.measure("jacob_cov")(mlp(), batch(24), None) == pytest.approx(expected, rel=1e-6)
    per_class = [np.sum(np.log(np.abs(np.corrcoef(j[y.numpy() == c])) + 1e-5)) for c in np.unique(y.numpy())]
    assert zero_cost.measure("epe_nas")(mlp(), batch(24), None) == pytest.approx(
        sum(abs(s) for s in per_class), rel=1e-6
    )


def wide_mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 64), nn.ReLU(), nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 3))


def test_nwot_is_the_log_determinant_of_the_hamming_kernel():
    # wide enough that the 16 samples' codes differ and the kernel is well conditioned
    net, [(x, _y)] = wide_mlp(), batch()
    codes, h = [], x
    for m in net:
        if isinstance(m, nn.ReLU):
            codes.append((h > 0).numpy())
        h = m(h).detach()
    units = sum(c.shape[1] for c in codes)
    hamming = sum((c[:, None, :] != c[None, :, :]).sum(-1) for c in codes)
    expected = np.linalg.slogdet((units - hamming).astype(float))[1]
    assert np.linalg.cond((units - hamming).astype(float)) < 1e6
    assert zero_cost.measure("nwot")(wide_mlp(), batch(), None) == pytest.approx(expected, rel=1e-9)


@pytest.fixture(scope="module")
def tiny_images(cifar_cache):
    return cifar10.prepare("cifar10-valid", data=cifar_cache, resolution=8, train_subset=200, valid_subset=50).train


def test_proxies_on_nb201_cells_are_deterministic_and_finite(tiny_images):
    arch = space.arch_from_index(6111)
    first = zero_cost.make_setup(arch, tiny_images, C=4, N=1, batch_size=16, seed=3)
    second = zero_cost.make_setup(arch, tiny_images, C=4, N=1, batch_size=16, seed=3)
    names = metrics.available("init")
    a = metrics.score(names, None, arch, first)
    b = metrics.score(names, None, arch, second)
    assert a == b and all(math.isfinite(v["0"]) for v in a.values())
    assert set(first.timings) == set(names)
    # zen re-draws every weight: the network's own initialisation does not matter
    other = zero_cost.make_setup(arch, tiny_images, C=4, N=1, batch_size=16, seed=3)
    with torch.no_grad():
        for p in other.network.parameters():
            p.mul_(3.0)
    assert metrics.score(["zen"], None, arch, other) == {"zen": a["zen"]}


def test_a_cell_whose_output_ignores_its_input_ranks_last(tiny_images):
    arch = space.Arch.from_string("|none~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|skip_connect~1|none~2|")
    setup = zero_cost.make_setup(arch, tiny_images, C=4, N=1, batch_size=16)
    s = metrics.score(["jacob_cov", "synflow"], None, arch, setup)
    assert s["jacob_cov"]["0"] == zero_cost.UNDEFINED_SCORE and "jacob_cov" in setup.undefined
    assert s["synflow"]["0"] == 0.0  # NASLib keeps a zero synflow at 0, below every cell with a path


def test_out_of_memory_splits_the_batch_into_equal_chunks():
    calls = []

    x, y = torch.randn(32, 12), torch.randint(0, 3, (32,))

    def measure(splits):
        batches = zero_cost.split_batch(x, y, splits)
        calls.append([len(b) for b, _ in batches])
        if max(len(b) for b, _ in batches) > 8:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return zero_cost.measure("grad_norm")(mlp(), batches, None)

    value = zero_cost.run_with_batch_splitting(measure, len(x))
    assert calls == [[32], [16, 16], [8, 8, 8, 8]]
    assert value == pytest.approx(zero_cost.measure("grad_norm")(mlp(), zero_cost.split_batch(x, y, 4), None))

    def broken(splits):
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        zero_cost.run_with_batch_splitting(broken, len(x))


NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")


def test_data_free_proxies_rank_cells_as_naslib_does(data_root, cifar_cache):
    """A handful of NASLib's CIFAR-10 cells at the reference configuration (C=16, N=5, 32x32, batch 32).

    NASLib computed this file with batch 32: its jacov never goes below -32, the bound for 32 samples.
    """
    reference = json.loads(
        (data_root / "nb201" / "sources" / "naslib_zc_nasbench201_724archs_prerelease.json").read_text()
    )["cifar10"]
    cells = [reference[k] for k in sorted(reference)[:8]]
    images = cifar10.prepare("cifar10-valid", data=cifar_cache, resolution=32, train_subset=640, valid_subset=10).train
    ours = {n: [] for n in ("params", "synflow", "l2_norm", "nwot")}
    for cell in cells:
        o = [NASLIB_OPS[int(k)] for k in cell["arch"].strip("()").split(",")]
        arch = space.Arch.from_string(f"|{o[0]}~0|+|{o[1]}~0|{o[3]}~1|+|{o[2]}~0|{o[4]}~1|{o[5]}~2|")
        setup = zero_cost.make_setup(arch, images, C=16, N=5, batch_size=32)
        for name, v in metrics.score(ours, None, arch, setup).items():
            ours[name].append(v["0"])
    theirs = {n: np.array([c[n]["score"] for c in cells]) for n in ours}
    np.testing.assert_allclose(ours["params"], theirs["params"], rtol=1e-6)
    # l2_norm at a random initialisation: its value is fixed by the layer shapes up to init noise
    np.testing.assert_allclose(ours["l2_norm"], theirs["l2_norm"], rtol=0.02)
    np.testing.assert_allclose(ours["synflow"], theirs["synflow"], rtol=0.01)  # log-synflow: data-free
    assert ranking.spearman_rho(np.array(ours["nwot"]), theirs["nwot"]) > 0.7


def test_beta_init_is_minus_beta_gradient_of_a_seeded_probe_and_disturbs_nothing(tiny_images):
    arch = space.arch_from_index(6111)

    def setup():
        return zero_cost.make_setup(arch, tiny_images, C=4, N=1, batch_size=16, seed=3)

    alone = setup()
    before = {k: v.clone() for k, v in alone.network.state_dict().items()}
    score = metrics.score(["beta_init"], None, arch, alone)["beta_init"]["0"]
    after = alone.network.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BatchNorm's running statistics too
    with torch.no_grad():
        features = alone.network.train().features(alone.inputs)
    torch.manual_seed(3)
    recorder = ProbeRecorder(CapacitanceProbe(features.shape[1], 10), ("gradient",))
    recorder.snapshot(0.0, 0, features, alone.targets)
    assert score == pytest.approx(
        -float(recorder.result().beta("gradient").values[0]), rel=1e-6
    )  # lower β ranks higher
    others = [n for n in metrics.available("init") if n != "beta_init"]
    with_it = metrics.score(["beta_init", *others], None, arch, setup())
    assert {n: with_it[n] for n in others} == metrics.score(others, None, arch, setup())


def test_beta_init_ranks_a_cell_cut_off_from_its_input_last_not_first(tiny_images):
    # every edge into the output node is none: the features are the same for every image and β_eff is 0,
    # the best value there is; but the network cannot learn, so the proxy calls it undefined
    cut_off = space.Arch.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|")
    setup = zero_cost.make_setup(cut_off, tiny_images, C=4, N=1, batch_size=16, seed=3)
    assert metrics.score(["beta_init"], None, cut_off, setup)["beta_init"]["0"] == zero_cost.UNDEFINED_SCORE
