"""Study configuration: packaged TOML presets, user TOML files and ``--set section.key=value`` overrides.

Every key has a default here, so a typo or a value of the wrong type is an error that lists the
valid keys. TOML has no null: ``0`` or ``""`` mean "not set" where the comment says so. What
:func:`load` returns is typed: a frozen :class:`StudyConfig` of frozen sections, ``None`` for unset,
tuples for lists; :meth:`StudyConfig.as_dict` gives the TOML form back (what a study stores).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.resources
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PRESETS = ("smoke", "quick", "study", "paper")
DEFAULT_PRESET = "quick"

DEFAULTS: dict[str, dict[str, Any]] = {
    "sample": {"archs": 40, "unique": True, "indices": []},  # indices: explicit list instead of a sample
    "model": {"C": 8, "N": 5, "probe_widths": [64, 64]},
    "data": {
        "split": "cifar10-valid",
        "resolution": 16,
        "train_images": 0,
        "valid_images": 0,  # 0: all
        "source": "",
        "data_root": "",
    },  # "": found under NBCAP_DATA
    "train": {
        "epochs": 3,
        "batch_size": 256,
        "lr": 0.1,
        "momentum": 0.9,
        "nesterov": True,
        "weight_decay": 5e-4,
        "eval_batch_size": 1024,
        "probe_batch_size": 256,
        "strategies": ["weight", "gradient"],
        "snapshot_every_steps": 0,
        "channels_last": False,
        "probe_input": "batch",
        "precision": "fp32",
    },  # 0: snapshots only at init and epoch ends; probe_input: batch (its own BN statistics) | eval
    "ground_truth": {"table": "", "target": "c10valid_xvalid_200_v10"},  # "": NBCAP_DATA/nb201/nb201_merged.csv(.gz)
    "proxies": {"names": ["all"], "batch_size": 64},  # zero-cost proxies at initialisation; ["all"] or [] or names
    "evaluation": {"bootstrap": 1000, "degenerate_below": 10.5, "calibration": 0.3},  # calibration: share of the
    # sample that fits the calibrated predictors (lcsvr, beta_ridge); they are scored on the rest
    "run": {
        "seed": 0,
        "device": "auto",
        "workers": 1,  # device: auto | cpu | cuda | cuda:N
        "threads": 0,  # torch threads per architecture; 0: the cores shared out among the workers
        "ray": "",
        "ray_cpus": 1.0,
        "ray_gpus": 0.0,
    },  # ray: "" (no Ray) | local | auto | ray://host:port
}


class Section:
    """A frozen config section; ``section["key"]`` reads like the TOML table it came from."""

    UNSET: ClassVar[dict[str, Any]] = {}  # key -> the TOML value that means "not set" (None here)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    @classmethod
    def from_toml(cls, values: dict[str, Any]) -> Any:
        kwargs = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            value = values[f.name]
            if f.name in cls.UNSET and value == cls.UNSET[f.name]:
                value = None
            kwargs[f.name] = tuple(value) if isinstance(value, list) else value
        return cls(**kwargs)

    def to_toml(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None:
                value = self.UNSET[f.name]
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True)
class SampleConfig(Section):
    archs: int
    unique: bool
    indices: tuple[int | str, ...]  # an explicit list instead of a sample (indices or strings)


@dataclass(frozen=True)
class ModelConfig(Section):
    C: int
    N: int
    probe_widths: tuple[int, ...]


@dataclass(frozen=True)
class DataConfig(Section):
    UNSET: ClassVar[dict[str, Any]] = {"train_images": 0, "valid_images": 0, "source": "", "data_root": ""}
    split: str
    resolution: int
    train_images: int | None  # None: all
    valid_images: int | None
    source: str | None  # None: found under NBCAP_DATA
    data_root: str | None


@dataclass(frozen=True)
class TrainSection(Section):
    UNSET: ClassVar[dict[str, Any]] = {"snapshot_every_steps": 0}
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    nesterov: bool
    weight_decay: float
    eval_batch_size: int
    probe_batch_size: int
    strategies: tuple[str, ...]
    snapshot_every_steps: int | None  # None: snapshots only at initialisation and epoch ends
    channels_last: bool
    probe_input: str  # BatchNorm statistics of the features the probe's coupling statistics read
    precision: str  # fp32 | bf16 (autocast of the training passes)


@dataclass(frozen=True)
class GroundTruthConfig(Section):
    UNSET: ClassVar[dict[str, Any]] = {"table": ""}
    table: str | None  # None: NBCAP_DATA/nb201/nb201_merged.csv(.gz)
    target: str


@dataclass(frozen=True)
class ProxiesConfig(Section):
    names: tuple[str, ...]
    batch_size: int


@dataclass(frozen=True)
class EvaluationConfig(Section):
    bootstrap: int
    degenerate_below: float
    calibration: float


@dataclass(frozen=True)
class RunConfig(Section):
    UNSET: ClassVar[dict[str, Any]] = {"ray": ""}
    seed: int
    device: str
    workers: int
    threads: int  # torch threads per architecture; 0: cores // workers (Ray: ray_cpus)
    ray: str | None  # None: no Ray
    ray_cpus: float
    ray_gpus: float


@dataclass(frozen=True)
class StudyConfig:
    """A whole, validated configuration: one frozen section per TOML table."""

    sample: SampleConfig
    model: ModelConfig
    data: DataConfig
    train: TrainSection
    ground_truth: GroundTruthConfig
    proxies: ProxiesConfig
    evaluation: EvaluationConfig
    run: RunConfig
    SECTIONS: ClassVar[dict[str, type[Section]]] = {
        "sample": SampleConfig,
        "model": ModelConfig,
        "data": DataConfig,
        "train": TrainSection,
        "ground_truth": GroundTruthConfig,
        "proxies": ProxiesConfig,
        "evaluation": EvaluationConfig,
        "run": RunConfig,
    }

    def __getitem__(self, section: str) -> Any:
        return getattr(self, section)

    @classmethod
    def from_dict(cls, values: dict[str, dict[str, Any]], origin: str = "configuration") -> StudyConfig:
        """From the TOML form; missing sections and keys take their defaults, the rest is validated."""
        cfg = merge(copy.deepcopy(DEFAULTS), values, origin)
        validate(cfg)
        return cls(**{name: section.from_toml(cfg[name]) for name, section in cls.SECTIONS.items()})

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """The TOML form (``0``/``""`` for unset, lists): what a study stores and hashes."""
        return {name: getattr(self, name).to_toml() for name in self.SECTIONS}

    def updated(self, update: dict[str, dict[str, Any]], origin: str) -> StudyConfig:
        """A copy with ``update`` (TOML form) applied and validated."""
        return StudyConfig.from_dict(merge(self.as_dict(), update, origin), origin)


SPLIT_SIZES = {  # images each split can give (training set, evaluation set)
    "cifar10": {"train_images": 50000, "valid_images": 10000},
    "cifar10-valid": {"train_images": 25000, "valid_images": 25000},
}
REPORT_SECTIONS = ("ground_truth", "evaluation")  # read by the report only: changing them never retrains


class ConfigError(ValueError):
    """A configuration the user wrote is invalid; the message lists what is valid."""


def _valid_keys() -> str:
    return ", ".join(f"{s}.{k}" for s, keys in DEFAULTS.items() for k in keys)


def _check_type(section: str, key: str, value: Any) -> Any:
    default = DEFAULTS[section][key]
    where = f"{section}.{key}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        value = float(value)
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
    elif isinstance(default, list):
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, got {value!r}")
    return value


def merge(base: dict, update: dict, origin: str) -> dict:
    """``base`` updated by ``update``; unknown sections or keys and wrong types are errors."""
    out = copy.deepcopy(base)
    for section, values in update.items():
        if section not in DEFAULTS:
            raise ConfigError(f"{origin}: unknown section {section!r}; valid keys: {_valid_keys()}")
        if not isinstance(values, dict):
            raise ConfigError(
                f"{origin}: {section} must be a table of keys ([{section}] in TOML), got {values!r}; "
                f"its keys: {', '.join(f'{section}.{k}' for k in DEFAULTS[section])}"
            )
        for key, value in values.items():
            if key not in DEFAULTS[section]:
                raise ConfigError(f"{origin}: unknown key {section}.{key}; valid keys: {_valid_keys()}")
            out[section][key] = _check_type(section, key, value)
    return out


def parse_override(text: str) -> dict:
    """``section.key=value`` -> {section: {key: value}}; the value is read as TOML, else as a string."""
    name, sep, raw = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot:
        raise ConfigError(
            f"--set expects section.key=value (e.g. train.epochs=3), got {text!r}; valid keys: {_valid_keys()}"
        )
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return {section: {key: value}}


def preset_path(name: str) -> Path:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return Path(str(importlib.resources.files(__package__).joinpath("presets").joinpath(f"{name}.toml")))


def read_toml(path: str | Path) -> dict:
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"--config {path} is a folder; give a TOML file")
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def load(preset: str | None = None, path: str | Path | None = None, overrides: Sequence[str] = ()) -> StudyConfig:
    """Defaults <- preset (default ``quick``, unless a file is given) <- file <- overrides, validated."""
    cfg = copy.deepcopy(DEFAULTS)
    if preset or not path:
        name = preset or DEFAULT_PRESET
        cfg = merge(cfg, read_toml(preset_path(name)), f"preset {name}")
    if path:
        cfg = merge(cfg, read_toml(path), str(path))
    for text in overrides:
        cfg = merge(cfg, parse_override(text), f"--set {text}")
    return StudyConfig.from_dict(cfg)


def validate(cfg: dict) -> None:
    """Checks across keys, with the fix in the message."""
    for section, key in (
        ("sample", "archs"),
        ("model", "C"),
        ("model", "N"),
        ("run", "workers"),
        ("proxies", "batch_size"),
        ("train", "batch_size"),
        ("train", "eval_batch_size"),
        ("train", "probe_batch_size"),
    ):
        if cfg[section][key] < 1:
            raise ConfigError(f"{section}.{key} must be at least 1, got {cfg[section][key]}")
    t = cfg["train"]
    if t["lr"] <= 0 or t["weight_decay"] < 0 or not 0 <= t["momentum"] < 1:
        raise ConfigError(
            "train.lr must be > 0, train.weight_decay >= 0 and train.momentum in [0, 1); "
            f"got {t['lr']}, {t['weight_decay']}, {t['momentum']}"
        )
    if t["snapshot_every_steps"] < 0:
        raise ConfigError(
            f"train.snapshot_every_steps must be 0 (epoch ends only) or more, got {t['snapshot_every_steps']}"
        )
    for key in ("train_images", "valid_images"):
        limit = SPLIT_SIZES[cfg["data"]["split"]][key] if cfg["data"]["split"] in SPLIT_SIZES else None
        value = cfg["data"][key]
        if value < 0 or (limit is not None and value > limit):
            raise ConfigError(
                f"data.{key} must be between 0 (all) and {limit} for split {cfg['data']['split']!r}, got {value}"
            )
    ray = cfg["run"]["ray"]
    if not (ray in ("", "local", "auto") or ray.startswith("ray://") or ("://" not in ray and ":" in ray)):
        raise ConfigError(f"run.ray (--ray) must be local, auto, ray://HOST:PORT or HOST:PORT, got {ray!r}")
    if cfg["run"]["threads"] < 0:
        raise ConfigError(
            "run.threads must be 0 (the cores shared out among the workers) or a thread count, "
            f"got {cfg['run']['threads']}"
        )
    if cfg["train"]["epochs"] < 0:
        raise ConfigError(f"train.epochs must be 0 (zero-cost proxies only) or more, got {cfg['train']['epochs']}")
    if cfg["run"]["ray_cpus"] <= 0 or cfg["run"]["ray_gpus"] < 0:
        raise ConfigError(
            f"run.ray_cpus must be > 0 and run.ray_gpus >= 0, got {cfg['run']['ray_cpus']}, {cfg['run']['ray_gpus']}"
        )
    if not 0 <= cfg["evaluation"]["calibration"] < 1:
        raise ConfigError(
            f"evaluation.calibration is a share of the sample in [0, 1), got {cfg['evaluation']['calibration']}"
        )
    from . import metrics  # the registry imports torch: only when a config is checked

    proxies = metrics.available("init")
    unknown = [n for n in cfg["proxies"]["names"] if n != "all" and n not in proxies]
    if unknown:
        raise ConfigError(f'proxies.names: unknown {unknown}; use ["all"], [] or names from {", ".join(proxies)}')
    if len(cfg["model"]["probe_widths"]) < 2:
        raise ConfigError(
            "model.probe_widths needs at least two hidden widths (β_eff of a one-hidden-layer probe is 0)"
        )
    if cfg["data"]["split"] not in ("cifar10", "cifar10-valid"):
        raise ConfigError(f"data.split must be cifar10 or cifar10-valid, got {cfg['data']['split']!r}")
    if not 8 <= cfg["data"]["resolution"] <= 32:
        raise ConfigError(f"data.resolution must be between 8 and 32, got {cfg['data']['resolution']}")
    if cfg["train"]["precision"] not in ("fp32", "bf16"):
        raise ConfigError(f"train.precision must be fp32 or bf16, got {cfg['train']['precision']!r}")
    if cfg["train"]["probe_input"] not in ("eval", "batch"):
        raise ConfigError(
            "train.probe_input must be eval (running BatchNorm statistics) or batch (the probe batch's), "
            f"got {cfg['train']['probe_input']!r}"
        )
    unknown = [s for s in cfg["train"]["strategies"] if s not in ("weight", "gradient", "hessian")]
    if unknown:
        raise ConfigError(f"train.strategies: unknown {unknown}; choose from weight, gradient, hessian")


def report_settings(stored: dict, overrides: Sequence[str] = ()) -> dict:
    """The report's sections: defaults <- what a study stored <- ``section.key=value`` overrides."""
    settings = {section: {**DEFAULTS[section], **stored.get(section, {})} for section in REPORT_SECTIONS}
    for text in overrides:
        update = parse_override(text)
        if not set(update) <= set(REPORT_SECTIONS):
            raise ConfigError(
                f"--set {text}: a report only takes {' and '.join(s + '.*' for s in REPORT_SECTIONS)} settings"
            )
        settings = merge(settings, update, f"--set {text}")
    return settings
