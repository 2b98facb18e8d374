import csv
from collections import defaultdict

import pytest

from nasbench_capacitance.nb201 import space
from nasbench_capacitance.nb201.space import Arch

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


@pytest.fixture(scope="module")
def rows(nb201_table):
    with open(nb201_table, newline="") as f:
        return list(csv.DictReader(f))


def test_round_trip_and_index_agree_with_all_15625_rows(rows):
    assert len(rows) == space.NUM_ARCHS
    for r in rows:
        i = int(r["index"])
        arch = space.arch_from_index(i)
        assert arch.to_string() == r["arch_str"]
        assert Arch.from_string(r["arch_str"]).index == i


def test_iso_partition_equals_nats_iso_class(rows):
    ours, theirs = defaultdict(set), defaultdict(set)
    for r in rows:
        ours[Arch.from_string(r["arch_str"]).iso_key].add(int(r["index"]))
        theirs[r["iso_class"]].add(int(r["index"]))
    assert len(ours) == len(theirs) == 6466
    assert {frozenset(s) for s in ours.values()} == {frozenset(s) for s in theirs.values()}


def test_known_best_architecture():
    assert space.arch_from_index(6111).to_string() == BEST
    assert Arch.parse("6111") == Arch.parse(6111) == Arch.from_string(BEST)


@pytest.mark.parametrize(
    "text, named",
    [
        ("|nor_conv_3x3~0|+|none~0|conv~1|+|none~0|none~1|none~2|", "conv~1"),
        ("|nor_conv_3x3~0|+|none~0|none~2|+|none~0|none~1|none~2|", "none~2"),
        ("|nor_conv_3x3~0|+|none~0|none~1|", "3 '+'-separated"),
        ("|nor_conv_3x3~0|+|none~0|+|none~0|none~1|none~2|", "must have 2 inputs"),
        ("nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "must start and end"),
        ("|nor_conv_3x3|+|none~0|none~1|+|none~0|none~1|none~2|", "nor_conv_3x3"),
    ],
)
def test_malformed_strings_name_the_bad_part(text, named):
    with pytest.raises(ValueError, match=named.replace("|", r"\|").replace("+", r"\+")):
        Arch.from_string(text)


def test_bad_index():
    for bad in (-1, space.NUM_ARCHS, 2.5, True):
        with pytest.raises(ValueError):
            space.arch_from_index(bad)


def test_isomorphic_cells_share_a_key():
    # Edges into node 3 may be listed in any order; a none edge and an edge from a dead node vanish.
    a = Arch.from_string("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|")
    b = Arch.from_string("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")
    assert a.iso_key != b.iso_key  # a conv on the zero node 2 still adds its BN's trainable bias
    c = Arch.from_string("|skip_connect~0|+|nor_conv_1x1~0|none~1|+|none~0|nor_conv_3x3~1|none~2|")
    d = Arch.from_string("|skip_connect~0|+|nor_conv_1x1~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")
    assert c.iso_key == d.iso_key


def test_sampling_is_seeded_distinct_and_unique_mode_has_one_per_class():
    a = space.sample_indices(50, seed=3)
    assert a == space.sample_indices(50, seed=3) and a != space.sample_indices(50, seed=4)
    assert len(set(a)) == 50
    uniq = space.sample_indices(500, seed=0, unique=True)
    keys = [space.arch_from_index(i).iso_key for i in uniq]
    assert len(set(keys)) == 500
    assert len(space.unique_indices()) == 6466
    with pytest.raises(ValueError):
        space.sample_indices(6467, seed=0, unique=True)
