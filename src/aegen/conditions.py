"""Attribute conditions (``--where``) on a run's z-points: the one home of ``--where``.

A condition maps attribute names to 1 (the image carries the attribute) or -1 (it does not),
as CelebA labels them. Every command reads conditions with :func:`parse_where`
(:func:`run_condition` checks the names against a run's labels) and selects rows with
:func:`where_mask` / :func:`select_rows`: ``aegen sample --where`` fits a sampler on the
matching training z-points, ``aegen attributes --rate --where`` rates such samplers.

Labels come from ``run.zpoint_meta(split)``: ``attrs``, an (N, A) int8 array in {-1, 1}, and
``attr_names``, its A column names.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from aegen import AegenError


def check_attribute(name: str, available: Sequence[str]) -> None:
    """AegenError listing the valid names unless ``name`` is one of ``available``."""
    if name not in available:
        raise AegenError(f"unknown attribute {name!r}; valid names: {', '.join(available)}")


# The values a condition may take: 1 (carries the attribute) or -1 (does not), also written
# +1, true / 0, false (case-insensitive) as in a 0/1 or boolean label file.
WHERE_VALUES = {"1": 1, "+1": 1, "true": 1, "-1": -1, "0": -1, "false": -1}


def parse_where(where: str | Mapping[str, object] | None,
                available: Sequence[str] | None = None) -> dict[str, int]:
    """``"Smiling=1,Male=-1"`` (or a mapping) -> ``{"Smiling": 1, "Male": -1}``.

    The one reading of ``--where`` for every command. Values: see :data:`WHERE_VALUES` (ints and
    bools in a mapping too). With ``available``, unknown names are an error listing the valid
    ones. Malformed conditions raise AegenError.
    """
    if where is None or (isinstance(where, str) and not where.strip()):
        return {}
    if isinstance(where, Mapping):
        items = [(str(name), value) for name, value in where.items()]
    else:
        items = []
        for part in str(where).split(","):
            if not part.strip():
                continue
            name, sep, value = part.partition("=")
            if not sep or not name.strip():
                raise AegenError(f"bad condition {part.strip()!r}: expected NAME=1 or NAME=-1, separated by commas")
            items.append((name.strip(), value))
    condition: dict[str, int] = {}
    for name, value in items:
        text = str(value).strip().lower()
        if text not in WHERE_VALUES:
            raise AegenError(f"bad value {str(value).strip()!r} for {name}: must be 1 or -1 (also 0, true, false)")
        if available is not None:
            check_attribute(name, available)
        condition[name] = WHERE_VALUES[text]
    return condition


def where_mask(attrs: np.ndarray, attr_names: Sequence[str], where: Mapping[str, int]) -> np.ndarray:
    """Rows of ``attrs`` (N, A) in {-1, 1} that meet every condition of ``where``: (N,) bool."""
    attrs = np.asarray(attrs)
    mask = np.ones(attrs.shape[0], dtype=bool)
    names = list(attr_names)
    for name, value in where.items():
        check_attribute(name, names)
        mask &= attrs[:, names.index(name)] == (1 if value > 0 else -1)
    return mask


def condition_name(where: Mapping[str, int]) -> str:
    """"unconditional" or e.g. "Smiling=1,Male=-1"."""
    return ",".join(f"{name}={value:d}" for name, value in where.items()) or "unconditional"


def select_rows(meta: Mapping, where: Mapping[str, int], what: str = "training z-point") -> np.ndarray:
    """Indices of the rows of ``meta`` (a :meth:`Run.zpoint_meta`) that meet ``where``; AegenError if none."""
    attrs, names = meta.get("attrs"), list(meta.get("attr_names") or [])
    if attrs is None or not names:
        raise AegenError("this run has no attribute labels for its z-points, so --where cannot select any")
    rows = np.flatnonzero(where_mask(attrs, names, where))
    if rows.size == 0:
        raise AegenError(f"no {what} matches --where {condition_name(where)}")
    return rows


def run_condition(run, where) -> dict[str, int]:
    """``where`` parsed, its names checked against the run's training labels (when it has any)."""
    condition = parse_where(where)
    if condition:
        names = list(run.zpoint_meta("train").get("attr_names") or [])
        if names:
            condition = parse_where(condition, names)
    return condition

