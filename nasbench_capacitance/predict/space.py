"""The few-shot predictor on a whole-space table: the population, its features, one fit and its
predictions for every cell of the population."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..metrics import few_shot
from ..metrics.calibrated import MIN_CALIBRATION
from ..nb201 import space
from ..whole_space.table import reference_table


class PredictError(ValueError):
    """A prediction that cannot run as asked; the message names the fix."""


@dataclass(frozen=True)
class TableFeatures:
    """Every cell a table holds (``cells``) and its feature matrix for ``blocks`` (one row per cell)."""

    path: str
    blocks: tuple[str, ...]
    cells: np.ndarray
    x: np.ndarray
    names: list[str]

    def rows(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """The rows of these cells (each must be in the table)."""
        position = np.full(space.NUM_ARCHS, -1)
        position[self.cells] = np.arange(len(self.cells))
        found = position[np.asarray(indices, dtype=np.int64)]
        if (found < 0).any():
            raise PredictError(f"{int((found < 0).sum())} calibration cells are not in the table {self.path}")
        return self.x[found]

    def without(self, block: str) -> TableFeatures:
        """The same cells with one block's columns left out (the ablation)."""
        kept = [b for b in self.blocks if b != block]
        keep = [i for i, n in enumerate(self.names) if n in set(few_shot.feature_names(kept))]
        return TableFeatures(self.path, tuple(kept), self.cells, self.x[:, keep], [self.names[i] for i in keep])


def check_blocks(blocks: Sequence[str]) -> tuple[str, ...]:
    wrong = [b for b in blocks if b not in few_shot.BLOCKS]
    if wrong or not blocks:
        raise PredictError(
            f"--blocks {','.join(blocks)}: choose among {', '.join(few_shot.BLOCKS)} "
            f"({', '.join(wrong) or 'none given'} is not one)"
        )
    return tuple(dict.fromkeys(blocks))


def table_features(path: str | os.PathLike | None, blocks: Sequence[str] = tuple(few_shot.BLOCKS)) -> TableFeatures:
    """The features of every cell of the table at ``path`` (None: the shipped one); one message names the
    metrics a block needs that the table lacks, and the fix."""
    blocks = check_blocks(blocks)
    table = reference_table(path)
    needed = [m for b in blocks for m in few_shot.BLOCKS[b]]
    missing = [m for m in needed if m not in table]
    where = str(path) if path else "the shipped quick table"
    if missing:
        raise PredictError(
            f"{where} has no column {', '.join(missing)}: score them into it (nbcap space --metrics "
            f"{','.join(missing)} --out DIR, then --table DIR/space.csv) or leave their block out with --blocks"
        )
    cells = np.flatnonzero(np.isfinite(table["index"]))
    partial = [m for m in needed if np.isnan(table[m][cells]).mean() > 0.5]
    if partial:
        raise PredictError(
            f"{where} scores {', '.join(partial)} on fewer than half of its cells: complete them with nbcap space "
            "or leave their block out with --blocks"
        )
    x = few_shot.features(cells, {m: table[m][cells] for m in needed}, blocks)
    return TableFeatures(where, blocks, cells, x, few_shot.feature_names(blocks))


def check_calibration(cells: np.ndarray, accuracies: np.ndarray) -> None:
    known = int(np.isfinite(accuracies).sum())
    if known < MIN_CALIBRATION:
        raise PredictError(f"the predictor is fitted on at least {MIN_CALIBRATION} cells with an accuracy, got {known}")
    if len(set(cells.tolist())) != len(cells):
        raise PredictError("a calibration cell is given twice")


@dataclass(frozen=True)
class Prediction:
    """Predicted accuracy and its uncertainty for every cell of ``features.cells``."""

    features: TableFeatures
    model: str
    seed: int
    calibration: np.ndarray  # the cells fitted on
    accuracies: np.ndarray  # their accuracies
    predicted: np.ndarray
    uncertainty: np.ndarray

    def held_out(self) -> np.ndarray:
        """A mask over ``features.cells``: the cells not fitted on."""
        return ~np.isin(self.features.cells, self.calibration)


def fit_table(
    features: TableFeatures,
    cells: Sequence[int] | np.ndarray,
    accuracies: Sequence[float] | np.ndarray,
    model: str = few_shot.DEFAULT_MODEL,
    seed: int = 0,
    spread: bool = True,
) -> Prediction:
    """Fit ``model`` on ``cells`` (their accuracies) and predict every cell of the table."""
    cells, accuracies = np.asarray(cells, dtype=np.int64), np.asarray(accuracies, dtype=float)
    check_calibration(cells, accuracies)
    known = np.isfinite(accuracies)
    fitted = few_shot.make_model(model, seed).fit(features.rows(cells[known]), accuracies[known])
    predicted = fitted.predict(features.x)
    uncertainty = fitted.spread(features.x) if spread else np.full(len(predicted), np.nan)
    return Prediction(features, model, seed, cells[known], accuracies[known], predicted, uncertainty)
