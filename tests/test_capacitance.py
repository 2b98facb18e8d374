import math

import line_graph_reference as ref
import numpy as np
import pytest
import torch

from nasbench_capacitance.capacitance import kernel
from nasbench_capacitance.capacitance.probe import CapacitanceProbe, ProbeRecorder, hessian_couplings


def random_mlp(rng, depth):
    widths = [int(w) for w in rng.integers(1, 41, size=depth + 1)]
    return [rng.standard_normal((widths[l + 1], widths[l])) for l in range(depth)]


def random_stats(rng, weights, batch=7):
    widths = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    inputs = [np.abs(rng.standard_normal((batch, n))) for n in widths[:-1]]
    slopes = [(rng.random((batch, n)) > 0.4).astype(float) for n in widths[1:-1]]
    deltas = [rng.standard_normal((batch, n)) for n in widths[1:]]
    return inputs, slopes, deltas


def close(a, b):
    return abs(a - b) <= 1e-10 * max(abs(b), 1e-300)


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
def test_weight_strategy_matches_explicit_line_graph(depth):
    rng = np.random.default_rng(depth)
    for _ in range(6):
        ws = random_mlp(rng, depth)
        ours = float(kernel.beta_eff([torch.tensor(w) for w in ws], "weight"))
        assert close(ours, ref.beta_weight(ws))


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
def test_gradient_strategy_matches_explicit_line_graph(depth):
    rng = np.random.default_rng(100 + depth)
    for _ in range(4):
        ws = random_mlp(rng, depth)
        inputs, slopes, deltas = random_stats(rng, ws)
        stats = {
            "inputs": [torch.tensor(x) for x in inputs],
            "slopes": [torch.tensor(x) for x in slopes],
            "deltas": [torch.tensor(x) for x in deltas],
        }
        ours = float(kernel.beta_eff([torch.tensor(w) for w in ws], "gradient", stats))
        assert close(ours, ref.beta_gradient(ws, inputs, slopes, deltas))


def test_widths_one_and_forty_edge_cases():
    rng = np.random.default_rng(7)
    ws = [rng.standard_normal(s) for s in [(1, 40), (40, 1), (1, 40), (40, 1)]]
    assert close(float(kernel.beta_eff([torch.tensor(w) for w in ws])), ref.beta_weight(ws))


@pytest.mark.parametrize("hidden", [(3, 4), (5, 2, 3), (2, 3, 2, 2)])
def test_hessian_strategy_matches_full_autograd_hessian(hidden):
    torch.manual_seed(sum(hidden))
    probe = CapacitanceProbe(4, 3, hidden).double()
    x, y = torch.randn(9, 4, dtype=torch.float64), torch.randint(0, 3, (9,))
    weights = [l.weight.detach() for l in probe.layers]
    biases = [l.bias.detach() for l in probe.layers]
    sizes = [w.numel() for w in weights]

    def loss(flat):
        ws = [t.reshape(w.shape) for t, w in zip(torch.split(flat, sizes), weights)]
        h = x
        for l, (w, b) in enumerate(zip(ws, biases)):
            h = h @ w.T + b
            h = torch.relu(h) if l < len(ws) - 1 else h
        return torch.nn.functional.cross_entropy(h, y)

    full = torch.autograd.functional.hessian(loss, torch.cat([w.flatten() for w in weights])).numpy()
    expected = ref.beta_hessian([w.numpy() for w in weights], full)
    ours = float(kernel.beta_eff(weights, "hessian", {"couplings": hessian_couplings(probe, x, y)}))
    assert close(ours, expected)


def test_transposing_P_leaves_beta_unchanged():
    rng = np.random.default_rng(11)
    ws = random_mlp(rng, 4)
    shapes = [w.shape for w in ws]
    P = ref.line_graph(shapes, lambda l, I, J, K: np.abs(ws[l][I, J]) * np.abs(ws[l + 1][K, I]))
    assert close(ref.beta_from_line_graph(P.T.tocsr()), ref.beta_from_line_graph(P))
    # The reversed MLP (transposed layers in reverse order) has the transposed line graph.
    reversed_ws = [torch.tensor(w.T) for w in reversed(ws)]
    assert close(float(kernel.beta_eff(reversed_ws)), float(kernel.beta_eff([torch.tensor(w) for w in ws])))


def test_batched_over_snapshots_equals_one_by_one():
    rng = np.random.default_rng(5)
    shapes = [(6, 5), (4, 6), (3, 4)]
    snaps = [[torch.tensor(rng.standard_normal(s)) for s in shapes] for _ in range(4)]
    batched = kernel.beta_eff([torch.stack(layer) for layer in zip(*snaps)])
    assert batched.shape == (4,)
    single = torch.stack([kernel.beta_eff(s) for s in snaps])
    torch.testing.assert_close(batched, single, rtol=1e-12, atol=0)


def test_one_hidden_layer_gives_zero_and_float32_input_accumulates_in_float64():
    w = [torch.randn(5, 4), torch.randn(3, 5)]
    assert float(kernel.beta_eff(w)) == 0.0
    out = kernel.beta_eff([torch.randn(5, 4), torch.randn(6, 5), torch.randn(3, 6)])
    assert out.dtype == torch.float64


def test_degenerate_inputs_give_nan_with_reason():
    ws = [torch.randn(5, 4), torch.zeros(6, 5), torch.randn(3, 6)]
    result = kernel.beta_eff_with_reasons(ws, "weight")
    assert torch.isnan(result.values).all() and result.reasons == (kernel.ZERO_WEIGHT_REASON,)
    ws = [torch.randn(5, 4), torch.randn(6, 5), torch.randn(3, 6)]
    stats = CapacitanceProbe(4, 3, (5, 6)).coupling_stats(torch.randn(8, 4), torch.zeros(8, dtype=torch.long))
    stats["slopes"] = [torch.zeros(8, 5), torch.zeros(8, 6)]  # no hidden unit active
    result = kernel.beta_eff_with_reasons(ws, "gradient", stats)
    assert torch.isnan(result.values).all() and result.reasons == (kernel.ZERO_COUPLING_REASON,)
    ws[1][0, 0] = float("nan")
    assert kernel.beta_eff_with_reasons(ws, "weight").reasons == (kernel.NONFINITE_REASON,)


@pytest.mark.parametrize("strategy", ["gradient", "hessian"])
def test_a_probe_batch_with_the_same_input_for_every_sample_is_undefined_not_zero(strategy):
    # a cell cut off from its input feeds the probe one constant vector (zero after batch statistics):
    # the couplings then come from the biases alone and β_eff is 0, the most extreme value there is
    probe = CapacitanceProbe(4, 3, (5, 6))
    with torch.no_grad():
        for layer in probe.linears:
            layer.bias.uniform_(0.5, 1.0)  # every hidden unit active, so the biases carry the couplings
    labels = torch.arange(8) % 3
    recorder = ProbeRecorder(probe, (strategy,))
    recorder.snapshot(0.0, 0, torch.zeros(8, 4), labels)
    recorder.snapshot(1.0, 1, torch.randn(8, 4), labels)
    result = recorder.result().beta(strategy)
    assert result.reasons[0] == kernel.CONSTANT_INPUTS_REASON and math.isnan(float(result.values[0]))
    assert result.reasons[1] is None and float(result.values[1]) > 0
    couplings = kernel.gradient_couplings(probe.coupling_stats(torch.zeros(8, 4), labels), 3, batched=False)
    numerator, denominator = kernel._coupling_sums(couplings)
    assert float(numerator[0]) == 0.0 and float(denominator[0]) > 0  # what the check replaces: β_eff = 0


def test_user_errors_are_clear():
    with pytest.raises(ValueError, match="unknown capacitance strategy"):
        kernel.beta_eff([torch.randn(3, 2)], "grad")
    with pytest.raises(ValueError, match="has 4 inputs but"):
        kernel.beta_eff([torch.randn(3, 2), torch.randn(5, 4)])
    with pytest.raises(ValueError, match="needs stats"):
        kernel.beta_eff([torch.randn(3, 2), torch.randn(5, 3)], "gradient")
    with pytest.raises(ValueError, match="hessian"):
        kernel.beta_eff([torch.randn(3, 2), torch.randn(5, 3)], "hessian")
