"""Study configuration: packaged TOML presets, user TOML files and ``--set section.key=value`` overrides.

Each section declares its keys once (:mod:`.schema`): default, type and valid values, the
enumerations taken from the modules that own them, so a typo or a value of the wrong type is an
error that lists the valid keys. A preset may name a ``base`` preset whose values it overrides.
What :func:`load` returns is typed: a frozen :class:`StudyConfig` of frozen sections, ``None`` for
unset, tuples for lists; :meth:`StudyConfig.as_dict` gives the TOML form back (what a study stores).
"""

from __future__ import annotations

import copy
import importlib.resources
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .capacitance.probe import DEFAULT_HIDDEN, MIN_HIDDEN_LAYERS
from .data.cifar10 import RESOLUTIONS, SPLIT_SIZES, SPLITS
from .nb201.space import Arch
from .schema import ConfigError, Section, at_least, between, each, fraction, key, min_length, one_of, positive
from .training import TrainConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["ConfigError", "StudyConfig", "load"]

DEFAULT_PRESET = "quick"
BASE_KEY = "base"  # a preset's key naming the preset it builds on


def _names_a_cell(value: Any) -> str | None:
    try:
        Arch.parse(value)
    except ValueError as exc:
        return f"is not an NB201 cell ({exc})"
    return None


def _ray_address(value: str) -> str | None:
    if value in ("", "local", "auto") or value.startswith("ray://") or ("://" not in value and ":" in value):
        return None
    return "(--ray) must be local, auto, ray://HOST:PORT or HOST:PORT"


def _device(value: str) -> str | None:
    ok = value in ("auto", "cpu", "cuda") or (value.startswith("cuda:") and value[5:].isdigit())
    return None if ok else "must be auto, cpu, cuda or cuda:N"


@dataclass(frozen=True)
class SampleConfig(Section):
    NAME: ClassVar[str] = "sample"
    archs: int = key(40, at_least(1))
    unique: bool = key(True, meaning="one cell per isomorphism class")
    indices: tuple[int | str, ...] = key((), each(_names_a_cell), meaning="an explicit list instead of a sample")


@dataclass(frozen=True)
class ModelConfig(Section):
    NAME: ClassVar[str] = "model"
    C: int = key(8, at_least(1))
    N: int = key(5, at_least(1))
    probe_widths: tuple[int, ...] = key(
        DEFAULT_HIDDEN,
        min_length(MIN_HIDDEN_LAYERS, "β_eff of a one-hidden-layer probe is 0"),
        each(at_least(1)),
        meaning="the capacitance probe's hidden widths",
    )


@dataclass(frozen=True)
class DataConfig(Section):
    NAME: ClassVar[str] = "data"
    split: str = key("cifar10-valid", one_of(SPLITS))
    resolution: int = key(16, between(*RESOLUTIONS))
    train_images: int | None = key(None, at_least(1), unset=0, meaning="0: all")
    valid_images: int | None = key(None, at_least(1), unset=0, meaning="0: all")
    source: str | None = key(None, unset="", meaning='"": found under NBCAP_DATA')
    data_root: str | None = key(None, unset="", meaning='"": NBCAP_DATA')

    def check(self) -> str | None:
        for name in ("train_images", "valid_images"):
            limit, value = SPLIT_SIZES[self.split][name], getattr(self, name)
            if value is not None and value > limit:
                return f"data.{name} must be between 0 (all) and {limit} for split {self.split!r}, got {value}"
        return None


@dataclass(frozen=True)
class GroundTruthConfig(Section):
    NAME: ClassVar[str] = "ground_truth"
    table: str | None = key(None, unset="", meaning='"": NBCAP_DATA/nb201/nb201_merged.csv(.gz)')
    target: str = key("c10valid_xvalid_200_v10")


@dataclass(frozen=True)
class ProxiesConfig(Section):
    NAME: ClassVar[str] = "proxies"
    names: tuple[str, ...] = key(("all",), meaning='zero-cost proxies at initialisation: ["all"], [] or names')
    batch_size: int = key(64, at_least(1))


@dataclass(frozen=True)
class EvaluationConfig(Section):
    NAME: ClassVar[str] = "evaluation"
    bootstrap: int = key(1000, at_least(0))
    degenerate_below: float = key(10.5, meaning="accuracy at or below which a cell is at chance level")
    calibration: float = key(0.3, fraction, meaning="share of the sample that fits the calibrated predictors")


@dataclass(frozen=True)
class RunConfig(Section):
    NAME: ClassVar[str] = "run"
    seed: int = key(0)
    device: str = key("auto", _device)
    workers: int = key(1, at_least(1))
    threads: int = key(0, at_least(0), meaning="torch threads per architecture; 0: the cores shared out")
    ray: str | None = key(None, _ray_address, unset="", meaning='"": no Ray; local | auto | ray://host:port')
    ray_cpus: float = key(1.0, positive)
    ray_gpus: float = key(0.0, at_least(0))


SECTIONS: dict[str, type[Section]] = {
    s.NAME: s
    for s in (
        SampleConfig,
        ModelConfig,
        DataConfig,
        TrainConfig,
        GroundTruthConfig,
        ProxiesConfig,
        EvaluationConfig,
        RunConfig,
    )
}
DEFAULTS: dict[str, dict[str, Any]] = {name: section.defaults() for name, section in SECTIONS.items()}
REPORT_SECTIONS = ("ground_truth", "evaluation")  # read by the report only: changing them never retrains


@dataclass(frozen=True)
class StudyConfig:
    """A whole, validated configuration: one frozen section per TOML table."""

    sample: SampleConfig
    model: ModelConfig
    data: DataConfig
    train: TrainConfig
    ground_truth: GroundTruthConfig
    proxies: ProxiesConfig
    evaluation: EvaluationConfig
    run: RunConfig

    def __getitem__(self, section: str) -> Any:
        return getattr(self, section)

    @classmethod
    def from_dict(cls, values: dict[str, dict[str, Any]], origin: str = "configuration") -> StudyConfig:
        """From the TOML form; missing sections and keys take their defaults, every value is checked."""
        cfg = merge(DEFAULTS, values, origin)
        return cls(**{name: section.from_toml(cfg[name]) for name, section in SECTIONS.items()})

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """The TOML form (``0``/``""`` for unset, lists): what a study stores and hashes."""
        return {name: getattr(self, name).to_toml() for name in SECTIONS}

    def updated(self, update: dict[str, dict[str, Any]], origin: str) -> StudyConfig:
        """A copy with ``update`` (TOML form) applied and checked."""
        return StudyConfig.from_dict(merge(self.as_dict(), update, origin), origin)


def _valid_keys() -> str:
    return ", ".join(f"{s}.{k}" for s, section in SECTIONS.items() for k in section.keys())


def merge(base: dict, update: dict, origin: str) -> dict:
    """``base`` updated by ``update``; unknown sections or keys and wrong types are errors."""
    out = copy.deepcopy(base)
    for name, values in update.items():
        if name not in SECTIONS:
            raise ConfigError(f"{origin}: unknown section {name!r}; valid keys: {_valid_keys()}")
        section = SECTIONS[name]
        if not isinstance(values, dict):
            raise ConfigError(
                f"{origin}: {name} must be a table of keys ([{name}] in TOML), got {values!r}; "
                f"its keys: {', '.join(f'{name}.{k}' for k in section.keys())}"
            )
        for k, value in values.items():
            if k not in section.keys():
                raise ConfigError(f"{origin}: unknown key {name}.{k}; valid keys: {_valid_keys()}")
            out.setdefault(name, {})[k] = section.check_type(k, value)
    return out


def parse_override(text: str) -> dict:
    """``section.key=value`` -> {section: {key: value}}; the value is read as TOML, else as a string."""
    name, sep, raw = text.partition("=")
    section, dot, k = name.strip().partition(".")
    if not sep or not dot:
        raise ConfigError(
            f"--set expects section.key=value (e.g. train.epochs=3), got {text!r}; valid keys: {_valid_keys()}"
        )
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return {section: {k: value}}


def _presets_folder() -> Path:
    return Path(str(importlib.resources.files(__package__).joinpath("presets")))


def presets() -> list[str]:
    """Every packaged preset's name (``presets/*.toml``), sorted."""
    return sorted(p.stem for p in _presets_folder().glob("*.toml"))


PRESETS = tuple(presets())


def preset_path(name: str) -> Path:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return _presets_folder() / f"{name}.toml"


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


def preset_values(name: str, seen: tuple[str, ...] = ()) -> dict:
    """A preset's TOML values over those of its ``base`` chain (the base's first, then its own)."""
    if name in seen:
        raise ConfigError(f"preset {name!r} names itself as a base (through {' -> '.join(seen)})")
    own = read_toml(preset_path(name))
    base = own.pop(BASE_KEY, None)
    values = merge(preset_values(base, (*seen, name)), own, f"preset {name}") if base else own
    return merge({}, values, f"preset {name}")


def load(preset: str | None = None, path: str | Path | None = None, overrides: Sequence[str] = ()) -> StudyConfig:
    """Defaults <- preset (default ``quick``, unless a file is given) <- file <- overrides, checked."""
    cfg = copy.deepcopy(DEFAULTS)
    if preset or not path:
        name = preset or DEFAULT_PRESET
        cfg = merge(cfg, preset_values(name), f"preset {name}")
    if path:
        cfg = merge(cfg, read_toml(path), str(path))
    for text in overrides:
        cfg = merge(cfg, parse_override(text), f"--set {text}")
    return StudyConfig.from_dict(cfg)


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
