import csv
import random

import pytest
import torch
from torch import nn

from nasbench_capacitance.capacitance.probe import CapacitanceProbe
from nasbench_capacitance.nb201 import model, space


@pytest.fixture(scope="module")
def rows(nb201_table):
    with open(nb201_table, newline="") as f:
        return list(csv.DictReader(f))


def test_parameter_count_matches_nb201_on_300_cells(rows):
    sample = random.Random(0).sample(rows, 300)
    assert model.count_parameters_matching_table(sample) == []


def test_forward_shapes_heads_and_channels_last():
    torch.manual_seed(0)
    net = model.build_network(6111, C=4, N=1, num_classes=7)
    x = torch.randn(3, 3, 16, 16)
    assert net(x).shape == (3, 7)
    assert net.features(x).shape == (3, 16)
    probe_net = model.build_network(6111, C=4, N=1, head="probe", probe_widths=(8, 6))
    assert isinstance(probe_net.head, CapacitanceProbe) and probe_net.head.widths == (16, 8, 6, 10)
    net_cl = net.to(memory_format=torch.channels_last)
    out_cl = net_cl(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(out_cl, net(x))
    out_cl.sum().backward()


def test_all_none_cell_outputs_zero_features_from_cells():
    arch = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    net = model.build_network(arch, C=4, N=1)
    cell = net.cells[0]
    x = torch.randn(2, 4, 8, 8)
    assert torch.equal(cell(x), torch.zeros_like(x))


def test_none_edges_are_skipped_but_same_function():
    # skip + none into node 1 equals skip alone: the none edge adds exactly zero.
    a = model.Cell(space.Arch.from_string("|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"), 4)
    x = torch.randn(2, 4, 5, 5)
    torch.testing.assert_close(a(x), x)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown head"):
        model.build_network(0, head="mlp")
    with pytest.raises(ValueError, match="C >= 1"):
        model.build_network(0, C=0)
    with pytest.raises(ValueError, match="bad token"):
        model.build_network("|nor_conv_3x3~0|+|none~0|conv~1|+|none~0|none~1|none~2|")


@pytest.mark.parametrize("shape", [(4, 3, 12, 12), (2, 5, 7, 3), (2, 2, 1, 1), (1, 3, 2, 9)])
def test_avg_pool_is_pytorchs_pooling_without_padded_zeros(shape):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64, requires_grad=True)
    reference = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)(x)
    ours = model.AvgPool3x3()(x)
    torch.testing.assert_close(ours, reference)
    weights = torch.randn(reference.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    (expected,) = torch.autograd.grad((reference * weights).sum(), x)
    (got,) = torch.autograd.grad((ours * weights).sum(), x)
    torch.testing.assert_close(got, expected)
