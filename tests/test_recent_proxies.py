"""ZiCo, MeCo, SWAP, AZ-NAS, VKDNW and TE-NAS: each against a hand computation or a law it must obey."""

import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn
from torch.func import functional_call, jacrev
from torch.nn import functional as F

from nasbench_capacitance import metrics
from nasbench_capacitance.data import cifar10
from nasbench_capacitance.metrics import aggregates, az_nas, recent, vkdnw, zero_cost
from nasbench_capacitance.metrics.cost import nb201_costs
from nasbench_capacitance.nb201 import space
from nasbench_capacitance.nb201.model import build_network


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 7), nn.ReLU(), nn.Linear(7, 6), nn.ReLU(), nn.Linear(6, 3))


def batches(seed: int, n: int = 16) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(n, 12, generator=g), torch.randint(0, 3, (n,), generator=g))]


def session(net: nn.Module, first, second=None) -> zero_cost.ProxySession:
    return zero_cost.ProxySession(net, first, torch.Generator().manual_seed(0), second=second)


@pytest.fixture(scope="module")
def tiny_images(cifar_cache):
    return cifar10.prepare("cifar10-valid", data=cifar_cache, resolution=8, train_subset=200, valid_subset=50).train


def test_zico_is_the_log_sum_of_mean_over_std_of_two_batches_gradients():
    a, b = batches(1), batches(2)
    expected = 0.0
    net = mlp()
    layers = [m for m in net if isinstance(m, nn.Linear)]
    grads = []
    for x, y in (a[0], b[0]):
        net.zero_grad()
        F.cross_entropy(net(x), y).backward()
        grads.append([m.weight.grad.clone().double().numpy() for m in layers])
    for first, second in zip(*grads):
        g = np.stack([first.ravel(), second.ravel()])
        sd = g.std(0)
        expected += math.log((np.abs(g).mean(0)[sd != 0] / sd[sd != 0]).sum())
    assert session(mlp(), a, b).value("zico") == pytest.approx(expected, rel=1e-9)


def test_meco_of_one_conv_is_one_minus_the_channels_correlation():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1))
    x = torch.randn(4, 3, 6, 6)
    out = net(x[:1]).detach()[0].reshape(2, -1).double().numpy()
    r = np.corrcoef(out)[0, 1]
    # the conv and the Sequential holding it both output the same 4-D map: two modules, 1 − |r| each
    assert session(net, [(x, torch.zeros(4, dtype=torch.long))]).value("meco") == pytest.approx(2 * (1 - abs(r)))


def test_distinct_neuron_patterns_counts_distinct_columns():
    active = torch.tensor([[1, 0, 1, 1, 0], [0, 0, 0, 1, 0], [1, 1, 1, 1, 0]], dtype=torch.bool)
    assert recent.distinct_neuron_patterns(active) == 4  # columns 0 and 2 agree
    many = torch.rand(20, 3000, generator=torch.Generator().manual_seed(0)) < 0.1
    for rows in (16, 20):  # the counted and the sorted paths agree with a set of tuples
        expected = len({tuple(column) for column in many[:rows].T.tolist()})
        assert recent.distinct_neuron_patterns(many[:rows]) == expected
    with pytest.raises(ValueError, match="63-bit"):
        recent.distinct_neuron_patterns(torch.zeros(63, 2, dtype=torch.bool))


def test_swap_ignores_the_networks_own_weights_and_its_regulariser_is_the_published_one(tiny_images):
    arch = space.arch_from_index(6111)
    names = ["swap", "swap_reg"]
    first = metrics.score(names, None, arch, zero_cost.make_setup(arch, tiny_images, C=4, N=1, batch_size=16))
    other = zero_cost.make_setup(arch, tiny_images, C=4, N=1, batch_size=16)
    with torch.no_grad():
        for p in other.network.parameters():
            p.mul_(3.0)
    assert metrics.score(names, None, arch, other) == first
    theta = nb201_costs(arch)[0]
    regulariser = math.exp(-((theta - recent.SWAP_MU) ** 2) / recent.SWAP_SIGMA)
    assert first["swap_reg"]["0"] == pytest.approx(first["swap"]["0"] * regulariser)
    neurons = 4 * 8 * 8 * 10  # a bound: no more patterns than ReLU outputs the 16 images light
    assert 1 <= first["swap"]["0"] <= neurons


def test_az_entropy_is_log_channels_for_white_features_and_zero_for_rank_one():
    g = torch.Generator().manual_seed(0)
    white = torch.randn(4096, 4, 1, 1, generator=g)  # 4 independent unit-variance channels
    assert float(az_nas._entropy(white)) == pytest.approx(math.log(4), abs=0.01)
    one = torch.randn(512, 1, 3, 3, generator=g).repeat(1, 4, 1, 1) * torch.tensor([1.0, 2, 3, 4])[None, :, None, None]
    assert float(az_nas._entropy(one)) == pytest.approx(0.0, abs=1e-6)


def test_az_trainability_of_a_block_peaks_at_unit_gain_and_an_identity_scores_minus_infinity():
    g = torch.Generator().manual_seed(0)
    inner = torch.randn(64, 4, 8, 8, generator=g, requires_grad=True)
    scaled = az_nas._pair_trainability(inner, 2.0 * inner, torch.Generator().manual_seed(1))
    assert scaled == pytest.approx(-2.0 - 0.5 + 2.0, abs=0.1)  # σ ≈ 2 (the probe is not orthogonal): −σ − 1/σ + 2
    flipped = az_nas._pair_trainability(inner, -inner, torch.Generator().manual_seed(1))
    assert flipped == pytest.approx(0, abs=0.01) and flipped < 0  # σ ≈ 1, the best a block scores
    assert az_nas._pair_trainability(inner, inner * 1.0, torch.Generator().manual_seed(1)) == -math.inf  # identity
    reduced = az_nas._pair_trainability(inner, F.avg_pool2d(inner, 2), torch.Generator().manual_seed(1))
    assert math.isfinite(reduced) and reduced < 0  # a reduction block's gradient is unshuffled to match


def test_az_components_are_deterministic_on_nb201_cells(tiny_images):
    arch = space.arch_from_index(6111)
    names = ["az_expressivity", "az_progressivity", "az_trainability"]
    a = metrics.score(names, None, arch, zero_cost.make_setup(arch, tiny_images, C=4, N=1, batch_size=16))
    b = metrics.score(names, None, arch, zero_cost.make_setup(arch, tiny_images, C=4, N=1, batch_size=16, seed=1))
    assert a == metrics.score(names, None, arch, zero_cost.make_setup(arch, tiny_images, C=4, N=1, batch_size=16))
    assert a != b and all(math.isfinite(v["0"]) for v in a.values())


def test_cholesky_covariance_factors_the_multinomial_covariance():
    p = torch.softmax(torch.randn(5, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64), 1)
    lower = vkdnw.cholesky_covariance(p)
    assert torch.allclose(lower @ lower.transpose(1, 2), torch.diag_embed(p) - p[:, :, None] * p[:, None, :])
    assert torch.equal(lower, torch.tril(lower))


def test_vkdnw_entropy_matches_the_fisher_of_the_full_jacobian():
    net = mlp()
    s = session(net, batches(1))
    value = s.value("vkdnw_entropy")
    # the same draws, then the Jacobian of every parameter, restricted to the first elements
    substitutes, _ = zero_cost.reinitialised(net, zero_cost.kaiming_normal, s.generator_for("vkdnw"))
    x = torch.randn(batches(1)[0][0].shape, generator=s.generator_for("vkdnw_input"))
    names = list(substitutes)
    full = jacrev(lambda params: functional_call(net, dict(zip(names, params)), (x,)))(
        tuple(substitutes[n] for n in names)
    )
    jac = torch.stack([j.reshape(*j.shape[:2], -1)[:, :, 0] for j in full], dim=2).double()  # (n, C, P)
    p = torch.softmax(functional_call(net, substitutes, (x,)).double(), 1) * 0.95 + 0.05 / 3
    lower = vkdnw.cholesky_covariance(p)  # L Lᵀ = diag(p) − p pᵀ, tested above
    fisher = (jac.transpose(1, 2) @ lower.transpose(1, 2) @ lower @ jac).mean(0)  # the reference's (LJ)ᵀ(LJ)
    eig = np.linalg.eigvalsh(fisher.numpy())
    q = np.quantile(eig, np.arange(1, 10) / 10)
    t = q / np.abs(q).sum()
    assert value == pytest.approx(float(-(t * np.log(t + 1e-10)).sum()), rel=1e-6)
    assert s.value("vkdnw") == pytest.approx(len(names) + value / math.log(10))


def test_vkdnw_jacobian_in_closed_form_matches_autograd_on_nb201s_network():
    torch.manual_seed(0)
    # convolutions (3x3 and 1x1, stride 1 and 2), BatchNorm, the classifier; a conv after a `none` edge, whose
    # output is a constant of the input but whose BatchNorm still moves the logits
    net = build_network(
        "|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_1x1~1|skip_connect~2|", C=4, N=1
    )
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
    substitutes, _ = zero_cost.reinitialised(net, zero_cost.kaiming_normal, torch.Generator().manual_seed(1))
    substitutes = {k: v + 0.1 * torch.rand_like(v) if k.endswith("running_var") else v for k, v in substitutes.items()}
    names = [n for n, _ in net.named_parameters()]
    x = torch.randn(5, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    out, jac = vkdnw.first_element_jacobian(net, substitutes, names, x)
    full = jacrev(lambda params: functional_call(net, {**substitutes, **dict(zip(names, params))}, (x,)))(
        tuple(substitutes[n] for n in names)
    )
    expected = torch.stack([j.reshape(*j.shape[:2], -1)[:, :, 0] for j in full], dim=2)
    assert jac.shape == (5, 10, len(names))
    torch.testing.assert_close(jac, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out, functional_call(net, substitutes, (x,)))


def test_te_ntk_is_minus_the_condition_number_of_the_per_sample_gradients():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(12, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    [(x, y)] = batches(1, n=6)
    out = net(x).sum(1)
    params = [p for name, p in net.named_parameters() if "weight" in name]
    rows = [torch.cat([g.flatten() for g in torch.autograd.grad(o, params, retain_graph=True)]) for o in out]
    gram = torch.stack(rows).double()
    eig = np.linalg.eigvalsh((gram @ gram.T).numpy())
    assert session(net, [(x, y)]).value("te_ntk") == pytest.approx(-eig[-1] / eig[0], rel=1e-4)


def test_te_linear_regions_counts_distinct_sample_patterns(tiny_images):
    arch = space.arch_from_index(6111)
    setup = zero_cost.make_setup(arch, tiny_images, C=4, N=1, batch_size=16)
    regions = metrics.score(["te_linear_regions"], None, arch, setup)["te_linear_regions"]["0"]
    assert 1 <= regions <= 16 and regions == int(regions)
    # cells of zeros alone: every ReLU after them sees a constant, so every input shares one pattern
    dead = space.Arch.from_string("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    dead_setup = zero_cost.make_setup(dead, tiny_images, C=4, N=1, batch_size=16)
    assert metrics.score(["te_linear_regions"], None, dead, dead_setup)["te_linear_regions"]["0"] == 1


def test_aggregates_are_their_published_rank_formulas():
    columns = {
        "flops": np.array([1.0, 2.0, 3.0, 4.0]),
        "az_expressivity": np.array([4.0, 3.0, 2.0, 1.0]),
        "az_progressivity": np.array([1.0, 1.0, 2.0, np.nan]),
        "az_trainability": np.array([0.5, 0.1, 0.3, 0.2]),
        "te_ntk": np.array([-5.0, -1.0, -3.0, -2.0]),
        "te_linear_regions": np.array([10.0, 12.0, 11.0, 12.0]),
    }
    out = aggregates.aggregate_columns(columns)
    assert set(out) == {"az_nas", "te_nas"}  # VKDNW's aggregate lacks jacob_cov and vkdnw here
    ranks = {
        "flops": [1, 2, 3, 4],
        "az_expressivity": [4, 3, 2, 1],
        "az_progressivity": [2.5, 2.5, 4, 1],  # ties averaged; the undefined value ranks lowest
        "az_trainability": [4, 1, 3, 2],
    }
    expected = np.sum([np.log(np.array(r) / 4) for r in ranks.values()], axis=0)
    np.testing.assert_allclose(out["az_nas"], expected)
    np.testing.assert_allclose(out["te_nas"], stats.rankdata(columns["te_ntk"]) + [1, 3.5, 2, 3.5])
    # te_ntk scored on the first three cells only: TE-NAS ranks over those three, the fourth has none
    scored = {"te_ntk": np.array([True, True, True, False])}
    sampled = aggregates.aggregate_columns(columns, scored)
    np.testing.assert_allclose(sampled["te_nas"][:3], stats.rankdata([-5.0, -1.0, -3.0]) + [1, 3, 2])
    assert np.isnan(sampled["te_nas"][3])
    np.testing.assert_allclose(sampled["az_nas"], expected)  # its components were scored everywhere
