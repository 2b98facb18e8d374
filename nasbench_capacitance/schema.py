"""How a configuration section is declared: each key once, with its default, its checks and its meaning.

A section is a frozen dataclass of :class:`Section` whose fields come from :func:`key`. The TOML
defaults, the type checks of a TOML value and the checks of a value are all derived from that one
declaration, so a key's valid values are written where the key is, taking their enumerations from
the module that owns them. TOML has no null: ``unset`` names the TOML value that means ``None``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

Check = Callable[[Any], str | None]  # a value -> what is wrong with it (None: nothing)
_NO_UNSET = object()


class ConfigError(ValueError):
    """A configuration the user wrote is invalid; the message names the key and what is valid."""


@dataclasses.dataclass(frozen=True)
class Key:
    checks: tuple[Check, ...]
    unset: Any  # the TOML value that stands for None, or _NO_UNSET
    meaning: str


def key(default: Any, *checks: Check, unset: Any = _NO_UNSET, meaning: str = "") -> Any:
    """A section's field: its default (Python form: ``None`` for unset, tuples for lists) and its checks."""
    spec = Key(checks, unset, meaning)
    if isinstance(default, (list, tuple)):
        value = tuple(default)
        return dataclasses.field(default_factory=lambda: value, metadata={"key": spec})
    return dataclasses.field(default=default, metadata={"key": spec})


# ----------------------------------------------------------------------------- checks


def at_least(low: float) -> Check:
    return lambda v: None if v >= low else f"must be at least {low:g}"


def between(low: float, high: float) -> Check:
    return lambda v: None if low <= v <= high else f"must be between {low:g} and {high:g}"


def positive(v: float) -> str | None:
    return None if v > 0 else "must be > 0"


def fraction(v: float) -> str | None:
    return None if 0 <= v < 1 else "must be in [0, 1)"


def one_of(values: Iterable[str]) -> Check:
    allowed = tuple(values)
    return lambda v: None if v in allowed else f"must be one of {', '.join(allowed)}"


def each_of(values: Iterable[str]) -> Check:
    allowed = tuple(values)

    def check(items: tuple) -> str | None:
        unknown = [v for v in items if v not in allowed]
        return f"has unknown {', '.join(map(str, unknown))}; choose from {', '.join(allowed)}" if unknown else None

    return check


def each(check: Check) -> Check:
    def every(items: tuple) -> str | None:
        for item in items:
            problem = check(item)
            if problem:
                return f"item {item!r} {problem}"
        return None

    return every


def min_length(n: int, why: str) -> Check:
    return lambda v: None if len(v) >= n else f"needs at least {n} entries ({why})"


# ----------------------------------------------------------------------------- sections


class Section:
    """A frozen config section; ``section["key"]`` reads like the TOML table it came from."""

    NAME: ClassVar[str] = ""

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, value := tuple(value))
            if value is None:
                continue
            spec: Key = f.metadata["key"]
            for check in spec.checks:
                problem = check(value)
                if problem:
                    meaning = f" ({spec.meaning})" if spec.meaning else ""
                    raise ConfigError(f"{self.NAME}.{f.name} {problem}{meaning}, got {_toml(value)}")
        problem = self.check()
        if problem:
            raise ConfigError(problem)

    def check(self) -> str | None:
        """Checks across this section's keys (the message names them and the fix); None when all is well."""
        return None

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The section's defaults in TOML form."""
        return cls().to_toml()

    @classmethod
    def from_toml(cls, values: dict[str, Any]) -> Any:
        """The section from TOML values (keys missing take their defaults); every value checked."""
        kwargs = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name not in values:
                continue
            spec: Key = f.metadata["key"]
            value = values[f.name]
            kwargs[f.name] = None if spec.unset is not _NO_UNSET and value == spec.unset else value
        return cls(**kwargs)

    def to_toml(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None:
                value = f.metadata["key"].unset
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def check_type(cls, name: str, value: Any) -> Any:
        """A TOML value for key ``name``, of the type its default has (an int where a float is asked is fine)."""
        default = cls.defaults()[name]
        where = f"{cls.NAME}.{name}"
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
        elif isinstance(default, list) and not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        return value


def _toml(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else f"{value}"
