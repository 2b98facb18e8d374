"""The few-shot predictor: a model fitted on N cells with known accuracy that ranks all the others.

Its features are what the package already knows of every cell without training it:

- ``graph``: the cell's graph, as GRAF (Kadlecová et al., ICML 2024) describes it for NB201: how
  often each operation occurs, on the edges that reach the output and on the paths from input to
  output (their number, the most of each operation one path holds, the shortest and longest path,
  the fewest and most convolutions on one path). Computed from the operations, free.
- the training-free metrics of :data:`FEATURE_METRICS` (the whole-space table's columns), split in
  blocks for the ablation: the 2021 proxies with parameter count and FLOPs, today's proxies, and
  ``beta_init``.

A record carries the metric values (computed live, or read from the table), the graph comes from
its index, so the predictor scores a cell wherever it is met: ``nbcap predict`` on the whole table,
the :class:`~nasbench_capacitance.Scorer` one cell at a time, a search as it goes. Raw values go in:
the trees are blind to monotone transforms, the other models rank-transform on the calibration cells.
Undefined scores (NaN) become :data:`MISSING`, below every defined one.

The model (:data:`MODELS`) was chosen on calibration draws set apart from those reported
(``experiments/few_shot_curve.py --choose``; docs/few_shot.md).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from ..nb201 import space
from ..store.records import Record
from . import metric
from .calibrated import Regressor

PROXIES_2021 = (
    "params", "flops", "grad_norm", "snip", "plain", "grasp", "fisher", "jacob_cov", "epe_nas", "nwot",
    "synflow", "zen", "l2_norm",
)  # fmt: skip
PROXIES_RECENT = ("zico", "meco", "az_expressivity", "az_progressivity", "az_trainability", "te_linear_regions")
BLOCKS: dict[str, tuple[str, ...]] = {  # feature block -> the table metrics it reads (graph: none, computed here)
    "graph": (),
    "proxies_2021": PROXIES_2021,
    "proxies_recent": PROXIES_RECENT,
    "beta_init": ("beta_init",),
}
FEATURE_METRICS = (*PROXIES_2021, *PROXIES_RECENT, "beta_init")
MISSING = -1e30  # an undefined score: below every defined one, finite for every model
DEFAULT_MODEL = "forest"
TREES = 300

# the paths from input (node 0) to output (node 3), as edge positions in space.EDGES order
PATHS = ((3,), (0, 4), (1, 5), (0, 2, 5))
LIVE_OPS = space.OPS[1:]  # every operation but "none"
CONVS = (space.OPS.index("nor_conv_1x1"), space.OPS.index("nor_conv_3x3"))


def graph_names() -> list[str]:
    names = [f"count_{o}" for o in space.OPS] + [f"reaching_{o}" for o in LIVE_OPS]
    names += [f"paths_with_{o}" for o in LIVE_OPS] + [f"most_{o}_on_a_path" for o in LIVE_OPS]
    return names + ["paths", "shortest_path", "longest_path", "fewest_convs_on_a_path", "most_convs_on_a_path"]


@functools.lru_cache(maxsize=1)
def _all_graph_features() -> np.ndarray:
    """``(15625, len(graph_names()))``: every cell's graph features, computed once for the whole space."""
    ops = np.array([[space.OPS.index(o) for o in arch.ops] for arch in space.all_archs()])  # (cells, 6)
    live_edges = ops != 0
    path_live = np.column_stack([live_edges[:, list(p)].all(axis=1) for p in PATHS])  # (cells, 4)
    reaching = np.zeros_like(live_edges)  # an edge on some live input-to-output path
    for k, p in enumerate(PATHS):
        reaching[:, list(p)] |= path_live[:, [k]]
    counts = np.stack([(ops == o).sum(axis=1) for o in range(len(space.OPS))], axis=1)
    reached = np.stack([((ops == o) & reaching).sum(axis=1) for o in range(1, len(space.OPS))], axis=1)
    per_path = np.stack(  # (cells, paths, live ops): how often each operation occurs on each path
        [np.stack([(ops[:, list(p)] == o).sum(axis=1) for o in range(1, len(space.OPS))], axis=1) for p in PATHS],
        axis=1,
    )
    on_live = per_path * path_live[:, :, None]
    lengths = np.array([len(p) for p in PATHS])[None, :]
    convs = per_path[:, :, [c - 1 for c in CONVS]].sum(axis=2)
    any_path = path_live.any(axis=1)
    masked_low = np.where(path_live, lengths, 99).min(axis=1)
    masked_convs_low = np.where(path_live, convs, 99).min(axis=1)
    columns = [
        counts,
        reached,
        (on_live > 0).sum(axis=1),
        on_live.max(axis=1),
        path_live.sum(axis=1, keepdims=True),
        np.where(any_path, masked_low, 0)[:, None],
        np.where(path_live, lengths, 0).max(axis=1, keepdims=True),
        np.where(any_path, masked_convs_low, 0)[:, None],
        np.where(path_live, convs, 0).max(axis=1, keepdims=True),
    ]
    return np.concatenate(columns, axis=1).astype(float)


def graph_features(indices: Sequence[int] | np.ndarray) -> np.ndarray:
    """The graph features of these cells, one row each."""
    return _all_graph_features()[np.asarray(indices, dtype=np.int64)]


def metric_features(columns: dict[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """The named metrics' values as feature columns (NaN and -inf to :data:`MISSING`)."""
    x = np.column_stack([np.asarray(columns[n], dtype=float) for n in names]) if names else np.zeros((0, 0))
    return np.nan_to_num(x, nan=MISSING, neginf=MISSING, posinf=-MISSING)


def feature_names(blocks: Sequence[str]) -> list[str]:
    """The feature columns of these blocks, in the order :func:`features` writes them."""
    return [name for b in blocks for name in (graph_names() if b == "graph" else BLOCKS[b])]


def features(indices: Sequence[int] | np.ndarray, columns: dict[str, np.ndarray], blocks: Sequence[str]) -> np.ndarray:
    """The predictor's features of ``indices`` from ``columns`` (metric -> values aligned with ``indices``)."""
    parts = [graph_features(indices) if b == "graph" else metric_features(columns, BLOCKS[b]) for b in blocks]
    return np.concatenate(parts, axis=1)


# ----------------------------------------------------------------------------- the models


class Spread(Regressor, Protocol):
    """A fitted regressor that also says how unsure it is of each prediction."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> Spread: ...
    def spread(self, x: np.ndarray) -> np.ndarray: ...


class _Forest:
    """A random forest; its uncertainty is the spread of its trees' predictions."""

    def __init__(self, seed: int, trees: int = TREES):
        from sklearn.ensemble import RandomForestRegressor

        self.model = RandomForestRegressor(n_estimators=trees, max_features=0.33, random_state=seed, n_jobs=1)

    def fit(self, x: np.ndarray, y: np.ndarray) -> _Forest:
        self.model.fit(x, y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(x)

    def spread(self, x: np.ndarray) -> np.ndarray:
        x32 = x.astype(np.float32)
        return np.std([t.predict(x32) for t in self.model.estimators_], axis=0)


class _Bagged:
    """Five members fitted on bootstrap resamples: the mean predicts, their spread is the uncertainty."""

    def __init__(self, make: Callable[[int], Regressor], seed: int, members: int = 5):
        self.make, self.seed, self.members = make, seed, members
        self.fitted: list[Regressor] = []

    def fit(self, x: np.ndarray, y: np.ndarray) -> _Bagged:
        rng = np.random.default_rng(self.seed)
        self.fitted = []
        for k in range(self.members):
            rows = rng.integers(0, len(y), len(y)) if self.members > 1 else np.arange(len(y))
            self.fitted.append(self.make(self.seed + k).fit(x[rows], y[rows]))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.mean([m.predict(x) for m in self.fitted], axis=0)

    def spread(self, x: np.ndarray) -> np.ndarray:
        return np.std([m.predict(x) for m in self.fitted], axis=0)


class _Gp:
    """A Gaussian process (Matérn 5/2 and noise, hyperparameters by marginal likelihood) on features
    rank-transformed on the calibration cells; its uncertainty is the posterior standard deviation."""

    def __init__(self, seed: int):
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
        from sklearn.preprocessing import QuantileTransformer

        self.scale = QuantileTransformer(n_quantiles=100, random_state=seed)
        kernel = ConstantKernel() * Matern(length_scale=1.0, nu=2.5) + WhiteKernel(1e-2)
        self.model = GaussianProcessRegressor(kernel, normalize_y=True, random_state=seed)

    def fit(self, x: np.ndarray, y: np.ndarray) -> _Gp:
        self.scale.set_params(n_quantiles=min(100, len(y)))
        self.model.fit(self.scale.fit_transform(x), y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(self.scale.transform(x))

    def spread(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(self.scale.transform(x), return_std=True)[1]


class _PairwiseRanker:
    """A ranking loss: logistic regression on feature differences of pairs of calibration cells (which of
    the two is more accurate), features rank-transformed on the calibration cells; the score is linear."""

    PAIRS = 20_000

    def __init__(self, seed: int):
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import QuantileTransformer

        self.seed = seed
        self.scale = QuantileTransformer(n_quantiles=100, random_state=seed)
        self.model = LogisticRegression(C=1.0, fit_intercept=False, max_iter=2000)

    def fit(self, x: np.ndarray, y: np.ndarray) -> _PairwiseRanker:
        self.scale.set_params(n_quantiles=min(100, len(y)))
        z = self.scale.fit_transform(x)
        rng = np.random.default_rng(self.seed)
        i, j = rng.integers(0, len(y), self.PAIRS), rng.integers(0, len(y), self.PAIRS)
        keep = y[i] != y[j]
        i, j = i[keep], j[keep]
        self.model.fit(z[i] - z[j], (y[i] > y[j]).astype(int))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.scale.transform(x) @ self.model.coef_[0]


def _boosting(seed: int) -> Regressor:
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(
        n_estimators=200, learning_rate=0.05, max_depth=3, subsample=0.8, random_state=seed
    )


MODELS: dict[str, Callable[..., Spread]] = {  # name -> (seed, **options) -> an unfitted model with spread()
    "forest": _Forest,
    "boosting": lambda seed: _Bagged(_boosting, seed),
    "gp": _Gp,
    "ranking": lambda seed: _Bagged(_PairwiseRanker, seed),
}


def make_model(name: str, seed: int, **options: int) -> Spread:
    """An unfitted model; ``options`` are its own (the forest's ``trees``)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](seed, **options)


# ----------------------------------------------------------------------------- the registered metric


def _record_features(record: Record, budget: str) -> np.ndarray | None:
    values = {n: np.array([record["metrics"].get(n, {}).get("0", np.nan)], dtype=float) for n in FEATURE_METRICS}
    if any(n not in record["metrics"] for n in FEATURE_METRICS):
        return None
    return features([record["index"]], values, tuple(BLOCKS))[0]


@metric(
    "few_shot",
    kind="calibrated",
    description="random forest on the cell's graph and every training-free metric, fitted on N cells with accuracy",
    reference="this package (docs/few_shot.md); graph features after GRAF, Kadlecová et al. 2024",
    features=_record_features,
    budgets=lambda records: [],  # training-free: not refitted per epoch in a study's report
    reads=FEATURE_METRICS,
)
def _fit_few_shot(x: np.ndarray, y: np.ndarray, seed: int) -> Regressor:
    return make_model(DEFAULT_MODEL, seed).fit(x, y)
