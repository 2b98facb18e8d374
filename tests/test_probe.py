import pytest
import torch

from nasbench_capacitance.capacitance import kernel
from nasbench_capacitance.capacitance.probe import CapacitanceProbe, ProbeRecorder, ProbeSchedule


def test_probe_needs_two_hidden_layers():
    with pytest.raises(ValueError, match="two hidden layers"):
        CapacitanceProbe(8, 3, (16,))


def test_coupling_stats_are_the_per_sample_gradients():
    torch.manual_seed(0)
    probe = CapacitanceProbe(5, 3, (4, 6))
    x, y = torch.randn(10, 5), torch.randint(0, 3, (10,))
    stats = probe.coupling_stats(x, y)
    # Mean over the batch of a^{l-1} δ^l is the gradient of the mean loss w.r.t. W^l.
    loss = torch.nn.functional.cross_entropy(probe(x), y)
    grads = torch.autograd.grad(loss, [l.weight for l in probe.layers])
    for l, g in enumerate(grads):
        torch.testing.assert_close(stats["deltas"][l].T @ stats["inputs"][l] / 10, g)


def test_recorder_stacks_snapshots_for_every_strategy():
    torch.manual_seed(0)
    probe = CapacitanceProbe(5, 3, (4, 6))
    x, y = torch.randn(10, 5), torch.randint(0, 3, (10,))
    rec = ProbeRecorder(probe, ("weight", "gradient", "hessian"))
    for epoch in range(3):
        rec.snapshot(epoch, epoch * 10, x, y)
        with torch.no_grad():
            probe.layers[1].weight.mul_(1.5)
    result = rec.result()
    assert result.epochs == [0.0, 1.0, 2.0] and result.weights[1].shape == (3, 6, 4)
    assert result.stats["hessian"]["couplings"][0].shape == (3, 5, 4, 6)
    for strategy in kernel.STRATEGIES:
        values = result.beta(strategy).values
        assert values.shape == (3,) and torch.isfinite(values).all()
    with pytest.raises(ValueError, match="probe batch"):
        rec.snapshot(3, 30)


def test_schedule_and_strategy_validation():
    with pytest.raises(ValueError, match="every_steps"):
        ProbeSchedule(every_steps=0)
    with pytest.raises(ValueError, match="unknown capacitance strategies"):
        ProbeRecorder(CapacitanceProbe(4, 2), ("weights",))
    assert not ProbeRecorder(CapacitanceProbe(4, 2), ("weight",)).needs_batch
