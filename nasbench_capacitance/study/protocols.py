"""The reduced training protocols of the fidelity frontier: presets (``presets/*.toml``, each on ``quick``)
run on a fixed sample of cells with a fixed seed, thread count and pinned settings."""

from __future__ import annotations

from .. import config

FRONTIER = (  # the protocols the frontier reports, cheapest network first
    "n1",
    "c4",
    "n3",
    "quick",
    "quick_batchprobe",
    "images5k_e8",
    "images20k_e2",
    "batch64",
    "r16",
    "n3_e8",
    "e12",
    "full32",
)
BETA_VARIANTS = ("n3_snap20", "n3_e1_snap20", "n3_hessian", "n3_probe_wide", "n3_probe_deep")
# Every frontier run trains channels-last (2.0x faster than contiguous for the quick network on the AMD
# EPYC that ran the frontier; it only reorders the arithmetic, like a thread count) without zero-cost
# proxies (they do not depend on the protocol; the whole-space table has them). The probe input is
# pinned to eval: the frontier's runs began before batch became the default, and pinning keeps them
# resumable; a protocol that sets a pinned key itself (quick_batchprobe) keeps its own value.
PINNED = {"train.channels_last": "true", "train.probe_input": "eval", "proxies.names": "[]"}


def protocol_config(
    name: str, cells: list[int], seed: int, workers: int, threads: int, overrides: tuple[str, ...] = ()
) -> config.StudyConfig:
    """Preset ``name`` on ``cells``: the pinned keys it does not set, then ``overrides``, then seed and threads."""
    own = {f"{section}.{key}" for section, keys in config.preset_values(name).items() for key in keys}
    pinned = [f"{key}={value}" for key, value in PINNED.items() if key not in own]
    run = [f"run.seed={seed}", f"run.workers={workers}", f"run.threads={threads}"]
    cfg = config.load(name, overrides=[*pinned, *overrides, *run])
    return cfg.updated({"sample": {"indices": cells}}, "the protocol's cells")
