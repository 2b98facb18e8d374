"""The one place that writes JSON and CSV outputs: NaN and infinities become null (JSON) or empty (CSV),
so every value reads back in any reader."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path
from typing import Any


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _clean(dataclasses.asdict(value))
    if hasattr(value, "item") and callable(value.item):  # numpy and torch scalars
        return _clean(value.item())
    return value


def to_json(value: Any, indent: int | None = None, sort_keys: bool = False) -> str:
    """JSON of plain data (dicts, lists, numbers, strings) with non-finite floats written as null."""
    return json.dumps(_clean(value), indent=indent, sort_keys=sort_keys, allow_nan=False)


def write_rows(path: Path, rows: list[dict], digits: int | None = None) -> Path:
    """``rows`` (dicts with the same keys) as a CSV file; non-finite floats become empty cells, and with
    ``digits`` every float is rounded to that many decimals (summaries meant to be committed and read)."""
    if not rows:
        raise ValueError(f"no rows to write to {path}")

    def cell(value: Any) -> Any:
        if value is None:
            return ""
        return round(value, digits) if digits is not None and isinstance(value, float) else value

    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: cell(v) for k, v in _clean(row).items()} for row in rows)
    return path
