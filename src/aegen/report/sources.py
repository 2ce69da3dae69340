"""Reading what a run folder holds, tolerantly, and formatting its numbers for people.

A report describes whatever steps were run: a missing file is ``None`` here (its section
is omitted), never an error. A file that exists but cannot be read raises AegenError
naming it, so the report can say which file is broken.
"""

from __future__ import annotations

import csv
import math
import numbers
from pathlib import Path
from typing import Any, Iterable

from aegen import AegenError
from aegen.io import read_json

MISSING = "—"


def read_json_if_present(path: Path) -> Any | None:
    """The JSON document at ``path``, or None if there is no such file."""
    return read_json(path) if Path(path).is_file() else None


def read_csv_rows(path: Path) -> list[dict[str, float]] | None:
    """Rows of a numeric CSV log (such as train_log.csv) as floats; None if the file is missing."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [{key: _to_float(value) for key, value in row.items() if key} for row in csv.DictReader(fh)]
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise AegenError(f"cannot read {path}: {exc}") from None
    return rows


def _to_float(text: str | None) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def pngs(folder: Path, exclude: Iterable[str] = ()) -> list[Path]:
    """PNG files directly in ``folder`` (sorted by name), leaving out the names in ``exclude``."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    skip = set(exclude)
    return sorted(p for p in folder.glob("*.png") if p.is_file() and p.name not in skip and not p.name.startswith("."))


def dig(obj: Any, *keys: Any, default: Any = None) -> Any:
    """``obj[k1][k2]...``, or ``default`` where a key or index is missing or the type is wrong."""
    for key in keys:
        try:
            obj = obj[key]
        except (KeyError, IndexError, TypeError):
            return default
    return default if obj is None else obj


def is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def num(value: Any, digits: int = 3) -> str:
    """A number for reading: integers with thousands separators, floats to ``digits`` significant digits."""
    if not is_number(value) or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING if value is None or is_number(value) else str(value)
    if isinstance(value, numbers.Integral) or (float(value).is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    value = float(value)
    if value != 0 and (abs(value) >= 10 ** (digits + 2) or abs(value) < 10 ** -(digits + 1)):
        return f"{value:.{max(digits - 1, 1)}e}"
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def pct(value: Any, digits: int = 1) -> str:
    """A fraction in [0, 1] as a percentage."""
    if not is_number(value) or not math.isfinite(value):
        return MISSING
    return f"{100 * value:.{digits}f}%"


def pval(value: Any) -> str:
    """A p-value: three decimals, or scientific notation below 0.001."""
    if not is_number(value) or not math.isfinite(value):
        return MISSING
    if value == 0:
        return "< 1e-300"
    return f"{value:.3f}" if value >= 1e-3 else f"{value:.1e}"


def plain(value: Any, max_items: int = 6) -> str:
    """Any JSON value as one short line: long lists are summarised by their length and range."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if is_number(value):
        return num(value, 4)
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        if len(value) <= max_items:
            return "[" + ", ".join(plain(v, max_items) for v in value) + "]"
        finite = [float(v) for v in value if is_number(v) and math.isfinite(v)]
        if len(finite) == len(value):
            return f"{len(value)} values from {num(min(finite), 4)} to {num(max(finite), 4)}"
        return f"{len(value)} values: " + ", ".join(plain(v, max_items) for v in value[:3]) + ", …"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {plain(v, max_items)}" for k, v in value.items())
    return str(value)


def flatten(obj: Any, prefix: str = "", max_rows: int = 2000) -> list[tuple[str, str]]:
    """(dotted key, :func:`plain` value) for every leaf of a JSON document; short lists stay whole."""
    rows: list[tuple[str, str]] = []

    def walk(value: Any, key: str) -> None:
        if len(rows) >= max_rows:
            return
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(value, list) and value and all(isinstance(v, (dict, list)) for v in value):
            for i, v in enumerate(value):
                walk(v, f"{key}[{i}]")
        else:
            rows.append((key, plain(value)))

    walk(obj, prefix)
    return rows


def label(name: str) -> str:
    """'n_heldout' -> 'n heldout': a JSON key as words."""
    return str(name).replace("_", " ")
