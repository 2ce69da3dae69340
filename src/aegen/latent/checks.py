"""The one home of the z-point input check, random-state resolution and row chunking.

Shared by the latent-space analysis (:mod:`aegen.latent`) and the samplers
(:mod:`aegen.samplers`); it imports nothing of aegen, so either can use it without a cycle.
Chunked mean and covariance live in :mod:`aegen.latent.moments`.
"""

from __future__ import annotations

import numbers
from typing import Iterator

import numpy as np

# Rows per chunk in passes over the z-points: 16,384 x 256 float64 is 32 MB, which keeps the
# memory of a 200,000-point analysis bounded while the matrix products stay efficient.
CHUNK_ROWS = 16_384
# Seeds are drawn below this bound: any of them fits a signed 64-bit integer (and JSON).
SEED_BOUND = 2**63


class InsufficientDataError(ValueError):
    """Too few points (or too low a rank) for a statistic; the analysis records it as skipped."""


def check_zpoints(Z, name: str = "z-points", min_points: int = 1, check_finite: bool = True) -> np.ndarray:
    """Check that ``Z`` is an (N, d) array of real numbers and return it without copying.

    Raises ValueError for a wrong shape, no columns, a dtype that is not integer or floating
    (bool and complex included), fewer than ``min_points`` rows ("too few points"), or, with
    ``check_finite``, rows holding NaN or Inf (the message names how many). Lists are
    converted with ``np.asarray``; memory-mapped arrays stay mapped and are scanned chunk by
    chunk.
    """
    if not isinstance(Z, np.ndarray):
        Z = np.asarray(Z)
    if Z.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (N, d), got shape {Z.shape}")
    n, d = Z.shape
    if n == 0 or d == 0:
        raise ValueError(f"{name} are empty (shape {Z.shape})")
    if not (np.issubdtype(Z.dtype, np.floating) or np.issubdtype(Z.dtype, np.integer)):
        raise ValueError(f"{name} must hold real numbers, got dtype {Z.dtype}")
    if n < min_points:
        raise ValueError(f"too few points: {name} have {n} rows, need at least {min_points}")
    if check_finite:
        bad_rows = 0
        for start, stop in iter_chunks(n):
            bad_rows += int(np.count_nonzero(~np.isfinite(Z[start:stop]).all(axis=1)))
        if bad_rows:
            raise ValueError(f"{name} contain NaN or Inf in {bad_rows} of {n} rows")
    return Z


def iter_chunks(n: int, chunk_rows: int = CHUNK_ROWS) -> Iterator[tuple[int, int]]:
    """Yield (start, stop) row ranges that cover ``range(n)`` in chunks of ``chunk_rows``."""
    for start in range(0, n, chunk_rows):
        yield start, min(n, start + chunk_rows)


def resolve_random_state(random_state) -> tuple[np.random.Generator, int]:
    """A fresh Generator for ``random_state`` and the int seed that repeats it (to record).

    The one rule of aegen, for the samplers' draws and the analysis alike:

    - an int >= 0 is the seed;
    - None draws a seed from fresh OS entropy (as numpy and scikit-learn do, a new result
      each call), and that seed is returned so that the caller can record and repeat it;
    - a numpy Generator is not used directly: one seed is drawn from it (advancing it by one
      draw), so that every result still has an int seed that repeats it.

    ValueError for anything else (bools, negative or non-integral numbers).
    """
    if isinstance(random_state, np.random.Generator):
        seed = int(random_state.integers(0, SEED_BOUND))
    elif random_state is None:
        seed = int(np.random.SeedSequence().entropy % SEED_BOUND)
    elif (isinstance(random_state, numbers.Integral) and not isinstance(random_state, (bool, np.bool_))
          and random_state >= 0):
        seed = int(random_state)
    else:
        raise ValueError(f"random_state must be an int >= 0, a numpy Generator or None, got {random_state!r}")
    return np.random.default_rng(seed), seed


def subsample_indices(n: int, size: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of a uniform subsample without replacement of ``size`` out of ``n``.

    ``size`` None or >= ``n`` returns all indices. Sorting keeps reads from a memory-mapped
    array sequential.
    """
    if size is None or size >= n:
        return np.arange(n)
    if size < 1:
        raise ValueError(f"subsample size must be >= 1, got {size}")
    return np.sort(rng.choice(n, size=size, replace=False))
