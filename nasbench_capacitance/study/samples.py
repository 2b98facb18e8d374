"""The β_eff study's two samples, which never meet: every choice is made on the development sample, and
only the held-out sample answers (docs/beta_study.md)."""

from __future__ import annotations

import random
from collections.abc import Iterable

from ..nb201 import space

DEV_SEED = 2026  # the development sample's seed; a reported study must not share its cells
DEV_CELLS = 60
STUDY_SEED = 2027  # the held-out sample's seed
STUDY_CELLS = 300
# `nbcap run --preset quick --set sample.archs=100`: the pool the search results looked at, so held out too
EXPLORED = {"archs": 100, "seed": 0}
TARGET = "c10valid_xvalid_200_v10"  # what every τ of the study is against


def dev_sample(n: int = DEV_CELLS) -> list[int]:
    """``n`` cells, one per isomorphism class (seed 2026): where the protocol and every reading are chosen."""
    return space.sample_indices(n, seed=DEV_SEED, unique=True)


def held_out_sample(n: int = STUDY_CELLS, dev_cells: int = DEV_CELLS, exclude: Iterable[int] = ()) -> list[int]:
    """``n`` cells, one per isomorphism class (seed 2027), from the classes outside the development sample,
    outside the explored quick sample and outside ``exclude`` (the cells of other studies)."""
    taken = set(dev_sample(dev_cells)) | set(space.sample_indices(EXPLORED["archs"], EXPLORED["seed"], unique=True))
    taken |= set(exclude)
    taken_classes = {space.arch_from_index(i).iso_key for i in taken}
    candidates = [i for i in space.unique_indices() if space.arch_from_index(i).iso_key not in taken_classes]
    if n > len(candidates):
        raise ValueError(f"only {len(candidates)} isomorphism classes lie outside the excluded cells; ask for fewer")
    return random.Random(STUDY_SEED).sample(candidates, n)
