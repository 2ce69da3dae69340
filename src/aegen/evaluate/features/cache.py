"""A cache for measurements of real images (features, face detections, downsampled pixels).

Real images do not change between evaluations, so their features are computed once per
(kind, split, N, seed, image size, extractor) and reused by later ``aegen evaluate`` and
``aegen sweep`` calls. Each entry is ``<name>.npy`` with a ``<name>.json`` beside it that
holds the full key; the JSON is written last, so an entry whose JSON is missing or does not
match is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Callable

import numpy as np

from aegen import AegenError
from aegen.io import load_npy, read_json, save_npy, write_json


class FeatureCache:
    """Arrays keyed by a dict of JSON-serialisable fields, stored under ``folder``."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.hits = 0
        self.misses = 0

    @staticmethod
    def entry_name(key: dict) -> str:
        """File stem for ``key``: readable fields first, then a hash of the whole key."""
        blob = json.dumps(key, sort_keys=True, default=str)
        digest = hashlib.sha256(blob.encode()).hexdigest()[:12]
        readable = "-".join(str(key[k]) for k in ("kind", "split", "n") if k in key)
        readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", readable)
        return f"{readable}-{digest}"

    def paths(self, key: dict) -> tuple[Path, Path]:
        stem = self.entry_name(key)
        return self.folder / f"{stem}.npy", self.folder / f"{stem}.json"

    def load(self, key: dict) -> np.ndarray | None:
        """The cached array for ``key``, or None when absent or not written completely."""
        array_path, key_path = self.paths(key)
        if not (array_path.exists() and key_path.exists()):
            return None
        try:
            stored = read_json(key_path)
            array = load_npy(array_path)
        except AegenError:
            return None  # a damaged entry (a crash mid-write, a bad disk) is recomputed
        if not isinstance(stored, dict) or stored.get("key") != json.loads(json.dumps(key, default=str)):
            return None
        if list(array.shape) != stored.get("shape"):
            return None
        return array

    def store(self, key: dict, array: np.ndarray) -> None:
        array_path, key_path = self.paths(key)
        save_npy(array_path, array)
        write_json(key_path, {"key": key, "shape": list(np.shape(array)), "dtype": str(np.asarray(array).dtype)})

    def get_or_compute(self, key: dict, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """Return the cached array for ``key``, computing and storing it on a miss."""
        cached = self.load(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        array = np.asarray(compute())
        self.store(key, array)
        return array
