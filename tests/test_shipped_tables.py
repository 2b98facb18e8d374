"""The shipped whole-space tables: each is found for its preset, holds what its Makefile target scores, and
is what the Scorer reads at that preset."""

import numpy as np
import pytest

from nasbench_capacitance import config
from nasbench_capacitance.scorer import Scorer
from nasbench_capacitance.whole_space.scoring import parse_sample
from nasbench_capacitance.whole_space.table import SHIPPED, reference_table, shipped_path, table_for

STANDARD_METRICS = (  # make standard-reference: every training-free metric on a sample ...
    "params,flops,grad_norm,snip,plain,grasp,fisher,jacob_cov,epe_nas,nwot,beta_init,synflow,zen,l2_norm,zico,meco,"
    "az_expressivity,az_progressivity,az_trainability,te_linear_regions,swap,swap_reg,vkdnw_entropy,vkdnw"
).split(",")
STANDARD_SAMPLE = 1000
NTK_PREFIX = 48  # ... and TE-NAS's NTK on its first cells


@pytest.mark.parametrize("preset", sorted(SHIPPED))
def test_each_shipped_table_is_the_one_its_preset_reads(preset):
    found = table_for(config.load(preset))
    assert found == (shipped_path(SHIPPED[preset]), preset)


def test_the_standard_table_holds_every_training_free_metric_on_its_sample():
    table = reference_table(shipped_path(SHIPPED["standard"]))
    sample = np.array(parse_sample(str(STANDARD_SAMPLE)))
    assert set(np.flatnonzero(np.isfinite(table["params"]))) == set(sample)
    for name in STANDARD_METRICS:
        assert name in table and np.isfinite(table[name][sample]).all(), name
    assert set(np.flatnonzero(np.isfinite(table["te_ntk"]))) == set(sample[:NTK_PREFIX])


def test_the_scorer_reads_the_standard_table_at_the_standard_preset():
    table = reference_table(shipped_path(SHIPPED["standard"]))
    cell = parse_sample("1")[0]
    for name in ("nwot", "vkdnw", "az_nas"):
        scorer = Scorer(name, preset="standard")
        assert scorer.source == "table" and scorer.score(cell) == table[name][cell]
