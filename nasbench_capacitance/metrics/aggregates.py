"""Aggregates that rank their components over the cells scored together: AZ-NAS, VKDNW's aggregate, TE-NAS.

Each is defined relative to a population (the whole space, a comparison's sample, the cells of a
table), so it is computed from the components' columns wherever a population is: the whole-space
report (the shipped table holds it over all 15,625 cells), a comparison (over its cells), and
:func:`aggregate_columns` for any table. Ranks are ascending with ties averaged (scipy's ``rankdata``,
as the references use it); a missing component value ranks lowest.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from . import REGISTRY, available, metric


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ascending average ranks 1..n; NaN (an undefined score) ranks below every defined one."""
    filled = np.where(np.isfinite(values), values, -np.inf)
    return stats.rankdata(filled)


def _log_rank_sum(columns: dict[str, np.ndarray]) -> np.ndarray:
    n = len(next(iter(columns.values())))
    return np.sum([np.log(_ranks(v) / n) for v in columns.values()], axis=0)


@metric(
    "az_nas",
    kind="aggregate",
    components=("flops", "az_expressivity", "az_progressivity", "az_trainability"),
    description="AZ-NAS: Σ log(rank / n) of FLOPs, expressivity, progressivity and trainability over the cells",
    reference="AZ-NAS NB201/tss_general.ipynb",
)
def _az_nas(columns: dict[str, np.ndarray]) -> np.ndarray:
    return _log_rank_sum(columns)


@metric(
    "vkdnw_agg",
    kind="aggregate",
    components=("flops", "az_expressivity", "az_trainability", "jacob_cov", "vkdnw"),
    description="VKDNW's aggregate: Σ log(rank / n) of FLOPs, AZ-NAS expressivity and trainability, jacob_cov, VKDNW",
    reference="VKDNW NB201 tss_utils.py vkdnw_comb_rank",
)
def _vkdnw_agg(columns: dict[str, np.ndarray]) -> np.ndarray:
    return _log_rank_sum(columns)


@metric(
    "te_nas",
    kind="aggregate",
    components=("te_ntk", "te_linear_regions"),
    description="TE-NAS: the rank of −κ(NTK) plus the rank of the linear regions over the cells",
    reference="TE-NAS; AZ-NAS NB201/tss_general.ipynb",
)
def _te_nas(columns: dict[str, np.ndarray]) -> np.ndarray:
    return _ranks(columns["te_ntk"]) + _ranks(columns["te_linear_regions"])


def aggregate_columns(
    columns: dict[str, np.ndarray], scored: dict[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Every aggregate whose components ``columns`` all hold, computed over the cells of ``columns``.

    ``scored`` (per metric, a mask of the cells it was scored on: a table whose costly metrics cover a
    sample) narrows each aggregate's population to the cells where every component was scored; the
    other cells get NaN. Within the population an undefined score still ranks lowest.
    """
    out = {}
    for name in available("aggregate"):
        spec = REGISTRY[name].aggregate
        assert spec is not None
        if not all(c in columns for c in spec.components):
            continue
        n = len(columns[spec.components[0]])
        population = np.ones(n, dtype=bool)
        for c in spec.components:
            if scored is not None and c in scored:
                population &= scored[c]
        values = np.full(n, np.nan)
        if population.any():
            values[population] = spec.combine(
                {c: np.asarray(columns[c], dtype=float)[population] for c in spec.components}
            )
        out[name] = values
    return out
