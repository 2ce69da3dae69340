"""Input checks, seeds and row chunking shared by the latent-space analysis."""

from __future__ import annotations

from typing import Iterator

import numpy as np

# Rows per chunk in passes over the z-points: 16,384 x 256 float64 is 32 MB, which keeps the
# memory of a 200,000-point analysis bounded while the matrix products stay efficient.
CHUNK_ROWS = 16_384


class InsufficientDataError(ValueError):
    """Too few points (or too low a rank) for a statistic; the analysis records it as skipped."""


def check_zpoints(Z: np.ndarray, name: str = "z-points") -> np.ndarray:
    """Check that ``Z`` is an (N, d) array of finite floats and return it without copying.

    Raises ValueError for a wrong shape, an empty array, or rows containing NaN or Inf (the
    message names how many rows). Memory-mapped arrays are scanned chunk by chunk.
    """
    if not isinstance(Z, np.ndarray):
        Z = np.asarray(Z)
    if Z.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (N, d), got shape {Z.shape}")
    n, d = Z.shape
    if n == 0 or d == 0:
        raise ValueError(f"{name} are empty (shape {Z.shape})")
    if not np.issubdtype(Z.dtype, np.floating) and not np.issubdtype(Z.dtype, np.integer):
        raise ValueError(f"{name} must be numeric, got dtype {Z.dtype}")
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


def resolve_seed(random_state: int | np.random.Generator | None) -> int:
    """Return an int seed to record: ``random_state`` itself, or one drawn from a Generator."""
    if random_state is None:
        return 0
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be >= 0, got {random_state}")
        return int(random_state)
    raise ValueError(f"random_state must be an int or a numpy Generator, got {type(random_state).__name__}")


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
