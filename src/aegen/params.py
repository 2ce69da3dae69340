"""``--param KEY=VALUE``: the one reading of a sampler parameter typed on a command line.

Every command that takes ``--param`` (``aegen sample``, ``aegen attributes --rate``, and the
grids of ``aegen sweep``) reads it here, by the same rules:

- the key may use ``-`` for ``_`` (``--param reg-covar=1e-5`` is ``reg_covar``) and must then
  be a Python identifier;
- the value is a JSON literal when it is one (numbers, ``true``/``false``, ``null``, lists,
  quoted strings), else ``True``/``False``/``None`` in any case, else a number Python reads
  (``inf``), else the text itself. :func:`format_value` writes a value back so that it reads
  the same.

Malformed input raises ValueError with a one-line message naming the flag.
"""

from __future__ import annotations

import json
import math
import re
from typing import Iterable

MAX_RANGE_VALUES = 1000
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WORDS = {"true": True, "false": False, "none": None, "null": None}


def parse_key(text: str, flag: str = "--param") -> str:
    """``" reg-covar "`` -> ``"reg_covar"``; ValueError unless the result is an identifier."""
    key = str(text).strip().replace("-", "_")
    if not _KEY.match(key):
        raise ValueError(f"{flag}: {text.strip()!r} is not a parameter name")
    return key


def parse_value(text: str):
    """One value as typed: JSON literal, else true/false/none in any case, else a number, else the text."""
    text = str(text).strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    if text.lower() in _WORDS:
        return _WORDS[text.lower()]
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def format_value(value) -> str:
    """A value as ``--param KEY=VALUE`` must spell it so that :func:`parse_value` gives it back."""
    if isinstance(value, str) and parse_value(value) == value and value == value.strip():
        return value
    return json.dumps(value, separators=(",", ":"))


def format_params(params: dict) -> list[str]:
    """``{"k": 3, "name": "1"}`` -> ``["k=3", 'name="1"']``: the ``--param`` texts :func:`parse_params` reads back."""
    return [f"{key}={format_value(value)}" for key, value in params.items()]


def split_assignment(item: str, flag: str = "--param") -> tuple[str, str]:
    """``"KEY=TEXT"`` -> (normalised key, TEXT); ValueError without ``=`` or a key."""
    key, sep, text = str(item).partition("=")
    if not sep or not key.strip():
        raise ValueError(f"{flag} expects KEY=VALUE, got {item!r}")
    return parse_key(key, flag), text.strip()


def parse_params(items: Iterable[str], flag: str = "--param") -> dict:
    """``["k=3", "reg-covar=1e-5", "name=x"]`` -> ``{"k": 3, "reg_covar": 1e-05, "name": "x"}``.

    A key given twice is a ValueError.
    """
    params: dict = {}
    for item in items:
        key, text = split_assignment(item, flag)
        if key in params:
            raise ValueError(f"{flag} {key} given twice")
        params[key] = parse_value(text)
    return params


def parse_values(text: str, key: str, flag: str = "--param") -> list:
    """The values of a grid parameter: ``start:stop:step`` (stop included when a step lands on
    it) or ``a,b,c``; duplicates dropped, order kept. ValueError for no values or a bad range."""
    text = text.strip()
    if not text:
        raise ValueError(f"{flag} {key}: no values")
    if ":" in text:
        values = _range(text, key, flag)
    else:
        values = [parse_value(part) for part in text.split(",") if part.strip()]
    if not values:
        raise ValueError(f"{flag} {key}: no values in {text!r}")
    return list(dict.fromkeys(values))


def _range(text: str, key: str, flag: str) -> list:
    parts = [parse_value(p) for p in text.split(":")]
    if len(parts) != 3 or not all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in parts):
        raise ValueError(f"{flag} {key}: a range is start:stop:step with three numbers, got {text!r}")
    start, stop, step = parts
    if step == 0 or (stop - start) * step < 0 or not all(math.isfinite(p) for p in parts):
        raise ValueError(f"{flag} {key}: step {step} never goes from {start} to {stop}")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_RANGE_VALUES:
        raise ValueError(f"{flag} {key}: {text} gives {count} values (at most {MAX_RANGE_VALUES})")
    if all(isinstance(p, int) for p in parts):
        return [start + k * step for k in range(count)]
    # Rounding hides float steps such as 0.1 accumulating to 0.7000000000000001.
    return [round(start + k * step, 10) for k in range(count)]
