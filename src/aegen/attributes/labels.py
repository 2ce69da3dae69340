"""Attribute labels of a run: names, the default choice and label vectors.

Conditions on the labels (``--where``) are a run-level matter: :mod:`aegen.conditions`.

Labels come from ``run.zpoint_meta(split)``: ``attrs`` is an (N, A) int8 array in {-1, 1}
(CelebA's convention: 1 = the image carries the attribute) and ``attr_names`` its A column
names. Everything here works on those two fields, so the functions also accept any object
with the same ``zpoints``/``zpoint_meta`` methods.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from aegen import AegenError
from aegen.conditions import check_attribute

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
        check_attribute(name, available)
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


def to_binary(labels: np.ndarray) -> np.ndarray:
    """Map labels in {-1, 1} (or {0, 1}, or bool) to {0, 1} int: (N,) -> (N,)."""
    labels = np.asarray(labels)
    return (labels > 0).astype(np.int64)
