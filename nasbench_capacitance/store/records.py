"""One architecture's result: the record every layer passes on (evaluation, workers, store, reports).

A record reads like the plain dict it is stored as (``record["metrics"]``, ``record.get("reason")``), so
stores written before this type existed open unchanged; :meth:`Record.score` is the one way to read a
metric's value at a training budget.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class Record:
    index: int
    arch_str: str
    status: str = "failed"  # "ok", "diverged", "failed"
    reason: str | None = None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # {metric: {budget: score}}, higher is better
    timings: dict[str, float] = field(default_factory=dict)  # {phase: seconds}
    extra: dict[str, Any] = field(default_factory=dict)  # anything JSON-serialisable

    def score(self, metric: str, budget: str | float = "0") -> float:
        """The metric's score at ``budget`` epochs (``"0"``: initialisation); NaN where there is none."""
        key = budget if isinstance(budget, str) else (str(int(budget)) if float(budget).is_integer() else f"{budget:g}")
        value = self.metrics.get(metric, {}).get(key)
        return math.nan if value is None else float(value)

    def budgets(self, metric: str) -> list[str]:
        """The budgets the metric was scored at, in increasing order."""
        return sorted(self.metrics.get(metric, {}), key=float)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Record:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    # read and write like the dict a record is stored as
    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self.__dataclass_fields__:
            raise KeyError(f"a record has no field {key!r}")
        setattr(self, key, value)

    def __contains__(self, key: object) -> bool:
        return key in self.__dataclass_fields__

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self.__dataclass_fields__ else default
