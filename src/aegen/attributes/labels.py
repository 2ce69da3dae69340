"""Attribute labels of a run: names, the default choice, label vectors and ``--where`` filters.

This is the one home of ``--where``: every command parses conditions with :func:`parse_where`
and selects rows with :func:`where_mask` / :func:`select_rows`.

Labels come from ``run.zpoint_meta(split)``: ``attrs`` is an (N, A) int8 array in {-1, 1}
(CelebA's convention: 1 = the image carries the attribute) and ``attr_names`` its A column
names. Everything here works on those two fields, so the functions also accept any object
with the same ``zpoints``/``zpoint_meta`` methods.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

from aegen import AegenError

# The attributes the seed asks about (smiling, sex, hair colour) plus two that change a face's
# outline strongly; used when the user names none.
PREFERRED_ATTRIBUTES = ("Smiling", "Male", "Blond_Hair", "Eyeglasses", "Wearing_Hat")
N_DEFAULT_ATTRIBUTES = 5


def attribute_names(run, split: str = "train") -> list[str]:
    """Names of the attributes labelled in ``split``; AegenError when the run has none."""
    meta = run.zpoint_meta(split)
    names = list(meta.get("attr_names") or [])
    if meta.get("attrs") is None or not names:
        raise AegenError(
            f"run {getattr(run, 'path', '')} has no attribute labels for its {split} images "
            "(encode a data set with labels: CelebA or the synthetic faces)"
        )
    return names


def resolve_attributes(requested: str | Sequence[str] | None, available: Sequence[str]) -> list[str]:
    """Validate requested attribute names against ``available``.

    requested: None (the default choice), a comma-separated string or a sequence of names.
    Returns the names in the requested order without duplicates. The default is those of
    ``PREFERRED_ATTRIBUTES`` that exist, else the first five available names. An unknown name
    raises AegenError listing the valid names.
    """
    available = list(available)
    if not available:
        raise AegenError("this run has no attribute labels")
    if requested is None or (isinstance(requested, str) and not requested.strip()):
        preferred = [name for name in PREFERRED_ATTRIBUTES if name in available]
        return preferred or available[:N_DEFAULT_ATTRIBUTES]
    if isinstance(requested, str):
        requested = [part.strip() for part in requested.split(",") if part.strip()]
    chosen: list[str] = []
    for name in requested:
        if name not in available:
            raise AegenError(f"unknown attribute {name!r}; valid names: {', '.join(available)}")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise AegenError(f"no attribute named; valid names: {', '.join(available)}")
    return chosen


def attribute_labels(run, split: str, names: Iterable[str]) -> np.ndarray:
    """Labels of ``names`` in ``split`` as an (N, len(names)) int8 array in {-1, 1}."""
    meta = run.zpoint_meta(split)
    all_names = attribute_names(run, split)
    attrs = np.asarray(meta["attrs"])
    columns = [all_names.index(name) for name in resolve_attributes(list(names), all_names)]
    return attrs[:, columns].astype(np.int8)


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
            resolve_attributes([name], available)
        condition[name] = WHERE_VALUES[text]
    return condition


def where_mask(attrs: np.ndarray, attr_names: Sequence[str], where: Mapping[str, int]) -> np.ndarray:
    """Rows of ``attrs`` (N, A) in {-1, 1} that meet every condition of ``where``: (N,) bool."""
    attrs = np.asarray(attrs)
    mask = np.ones(attrs.shape[0], dtype=bool)
    names = list(attr_names)
    for name, value in where.items():
        if name not in names:
            raise AegenError(f"unknown attribute {name!r}; valid names: {', '.join(names)}")
        mask &= attrs[:, names.index(name)] == (1 if value > 0 else -1)
    return mask


def select_rows(meta: Mapping, where: Mapping[str, int], what: str = "training z-point") -> np.ndarray:
    """Indices of the rows of ``meta`` (a :meth:`Run.zpoint_meta`) that meet ``where``; AegenError if none."""
    attrs, names = meta.get("attrs"), list(meta.get("attr_names") or [])
    if attrs is None or not names:
        raise AegenError("this run has no attribute labels for its z-points, so --where cannot select any")
    rows = np.flatnonzero(where_mask(attrs, names, where))
    if rows.size == 0:
        text = ",".join(f"{k}={v}" for k, v in where.items())
        raise AegenError(f"no {what} matches --where {text}")
    return rows


def to_binary(labels: np.ndarray) -> np.ndarray:
    """Map labels in {-1, 1} (or {0, 1}, or bool) to {0, 1} int: (N,) -> (N,)."""
    labels = np.asarray(labels)
    return (labels > 0).astype(np.int64)
