"""What identifies a set of records, in one place: a study, a whole-space scoring, a proxy's scoring.

A store keys each run by the hash of its identity, so a job with the same identity resumes that run
and any other identity is another run. An identity holds what changes the records, never how they
were computed (workers, Ray, threads) nor how they are evaluated (ground truth, statistics), so a
study started one way resumes another and re-reports against a new target without retraining.
"""

from __future__ import annotations

import json
from typing import Any

from ..config import REPORT_SECTIONS, StudyConfig

SPACE_KIND = "space"  # the ``kind`` of a whole-space scoring's identity; a study's identity has none
EXECUTION_KEYS = ("workers", "threads", "ray", "ray_cpus", "ray_gpus")  # how a study runs, not what it computes
# Keys added after studies were stored, with the value those studies computed with: an identity holding
# it leaves the key out (old studies resume), and a stored identity without the key reads it back.
# probe_input's default has since become "batch"; an identity with "batch" names the key, so a study made
# before the change is never resumed with the new probe input.
LEGACY_VALUES = {("train", "probe_input"): "eval", ("train", "precision"): "fp32"}


def study(cfg: StudyConfig, plugins: dict[str, str] | None = None) -> dict:
    """A study's identity (``nbcap run``, and the ``Scorer``'s store): the configuration less the report's
    and the execution's sections, less keys that still hold their legacy value, and the content hash of
    every plug-in whose metrics the study computes (``plugins``: {file: sha256})."""
    identity: dict = {section: values for section, values in cfg.as_dict().items() if section not in REPORT_SECTIONS}
    for key in EXECUTION_KEYS:
        identity["run"].pop(key, None)
    for (section, key), value in LEGACY_VALUES.items():
        if identity[section].get(key) == value:
            del identity[section][key]
    if plugins:
        identity["plugins"] = dict(sorted(plugins.items()))
    return identity


def config_of_study(identity: dict, origin: str) -> StudyConfig:
    """The configuration a stored study identity was made with (keys added since take their legacy values)."""
    values = {section: dict(keys) for section, keys in identity.items() if section != "plugins"}
    for (section, key), value in LEGACY_VALUES.items():
        values.setdefault(section, {}).setdefault(key, value)
    return StudyConfig.from_dict(values, origin)


def training_free(cfg: StudyConfig) -> dict:
    """What fixes every training-free score of a cell: the network, the data, the proxies' batch, the seed."""
    return {
        "model": {"C": cfg.model.C, "N": cfg.model.N},
        "data": cfg.as_dict()["data"],
        "proxies": {"batch_size": cfg.proxies.batch_size},
        "seed": cfg.run.seed,
    }


def space_scoring(cfg: StudyConfig, names: list[str], iso_copy: bool, plugins: dict[str, str] | None = None) -> dict:
    """A whole-space scoring's identity: the training-free setting, the metrics, the copy option and the
    content hash of every plug-in among the metrics.

    The index range is not part of it, so a scoring is extended range by range in one folder.
    """
    identity = {"kind": SPACE_KIND, **training_free(cfg), "metrics": sorted(names), "iso_copy": iso_copy}
    return identity | ({"plugins": dict(sorted(plugins.items()))} if plugins else {})


def kind_of(identity: dict) -> str:
    """``space`` for a whole-space scoring's identity, ``study`` for a study's."""
    return SPACE_KIND if identity.get("kind") == SPACE_KIND else "study"


def prepared_data(cfg: StudyConfig) -> str:
    """What fixes a configuration's prepared training data on a device: one per worker process serves it."""
    return json.dumps([cfg.as_dict()["data"], cfg.run.device, cfg.run.seed, cfg.train.channels_last], sort_keys=True)


def proxy_scoring(source: str, budget: str, study_identity: dict, device: str, table: str = "") -> dict[str, Any]:
    """What fixes a search proxy's scores and charged seconds: the table it reads (and the machine that
    timed it, ``device``), or the live setting (a study's identity) on ``device``."""
    if source == "table":
        return {"source": "table", "table": table or "shipped whole-space table", "device": device}
    return {"source": "live", "budget": budget, "config": study_identity, "device": device}
