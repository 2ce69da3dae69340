"""Mean, covariance and per-component moments of a z-point cloud in one chunked pass.

The one home of chunked moments: the analysis uses :func:`cloud_moments`, the samplers
:func:`mean_and_covariance` (the same pass, without the higher moments).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from aegen.latent.checks import CHUNK_ROWS, InsufficientDataError, iter_chunks


@dataclass(frozen=True)
class CloudMoments:
    """Moments of an (N, d) cloud.

    n: number of points; mean, minimum, maximum, skewness, excess_kurtosis: (d,);
    cov: (d, d) sample covariance (divisor N - 1). Skewness and kurtosis are the biased
    moment ratios (divisor N), as ``scipy.stats.skew`` / ``kurtosis`` compute by default.
    """

    n: int
    mean: np.ndarray
    cov: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    skewness: np.ndarray
    excess_kurtosis: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @property
    def std(self) -> np.ndarray:
        """(d,) sample standard deviation per component."""
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))

    def require(self, n_min: int, what: str) -> None:
        """Raise InsufficientDataError unless the cloud has at least ``n_min`` points."""
        if self.n < n_min:
            raise InsufficientDataError(f"{what} needs at least {n_min} points, got {self.n}")


def cloud_moments(Z: np.ndarray, mask: np.ndarray | None = None, chunk_rows: int = CHUNK_ROWS,
                  progress: bool = False, higher: bool = True) -> CloudMoments:
    """Moments of ``Z`` (N, d), read chunk by chunk in float64 (memory-mapped input is fine).

    ``mask`` (N,) bool restricts the moments to the selected rows without copying them.
    Rows with NaN or Inf raise ValueError naming how many rows are affected. With fewer
    than 2 rows the covariance and higher moments are NaN. ``higher=False`` skips the
    minimum, maximum, skewness and kurtosis (left NaN): mean and covariance only, faster.
    """
    if Z.ndim != 2 or Z.shape[0] == 0 or Z.shape[1] == 0:
        raise ValueError(f"z-points must be a non-empty (N, d) array, got shape {Z.shape}")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (Z.shape[0],):
            raise ValueError(f"mask must have shape ({Z.shape[0]},), got {mask.shape}")
    n_rows, d = Z.shape
    n = n_rows if mask is None else int(np.count_nonzero(mask))
    if n == 0:
        raise InsufficientDataError("no rows selected")
    # Sums are taken around a shift near the mean (the first chunk's mean) so that the
    # central moments do not lose precision to cancellation when the cloud is off-centre.
    first = np.asarray(Z[: min(n_rows, chunk_rows)], dtype=np.float64)
    shift = first.mean(axis=0) if np.all(np.isfinite(first)) else np.zeros(d)
    power = np.zeros((4, d))
    outer = np.zeros((d, d))
    minimum = np.full(d, np.inf)
    maximum = np.full(d, -np.inf)
    bad_rows = 0
    bar = tqdm(total=n_rows, desc="moments", unit="pt", disable=not progress, leave=False)
    for start, stop in iter_chunks(n_rows, chunk_rows):
        y = np.array(Z[start:stop], dtype=np.float64)  # a copy: y is shifted in place below
        if mask is not None:
            y = y[mask[start:stop]]
            if len(y) == 0:
                bar.update(stop - start)
                continue
        finite = np.isfinite(y).all(axis=1)
        if not finite.all():
            bad_rows += int(np.count_nonzero(~finite))
            bar.update(stop - start)
            continue
        if higher:
            np.minimum(minimum, y.min(axis=0), out=minimum)
            np.maximum(maximum, y.max(axis=0), out=maximum)
        y -= shift
        power[0] += y.sum(axis=0)
        outer += y.T @ y
        if higher:
            y2 = y * y
            power[1] += y2.sum(axis=0)
            power[2] += (y2 * y).sum(axis=0)
            power[3] += (y2 * y2).sum(axis=0)
        bar.update(stop - start)
    bar.close()
    if bad_rows:
        raise ValueError(f"z-points contain NaN or Inf in {bad_rows} of {n_rows} rows")

    s1, s2, s3, s4 = power / n
    delta = s1
    mean = shift + delta
    m2 = s2 - delta**2
    m3 = s3 - 3 * delta * s2 + 2 * delta**3
    m4 = s4 - 4 * delta * s3 + 6 * delta**2 * s2 - 3 * delta**4
    with np.errstate(divide="ignore", invalid="ignore"):
        skewness = np.where(m2 > 0, m3 / np.clip(m2, 1e-300, None) ** 1.5, np.nan)
        kurtosis = np.where(m2 > 0, m4 / np.clip(m2, 1e-300, None) ** 2 - 3.0, np.nan)
    if n >= 2:
        cov = (outer - n * np.outer(delta, delta)) / (n - 1)
        cov = 0.5 * (cov + cov.T)
    else:
        cov = np.full((d, d), np.nan)
        skewness[:] = np.nan
        kurtosis[:] = np.nan
    if not higher:
        minimum[:], maximum[:], skewness[:], kurtosis[:] = np.nan, np.nan, np.nan, np.nan
    return CloudMoments(n=n, mean=mean, cov=cov, minimum=minimum, maximum=maximum,
                        skewness=skewness, excess_kurtosis=kurtosis)


def mean_and_covariance(Z: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) (divisor N - 1) of Z (N, d), or of its ``rows`` (distinct indices).

    The pass of :func:`cloud_moments` without the higher moments: float64 chunks, sums taken
    around a shift near the mean. InsufficientDataError (a ValueError) with fewer than 2 rows;
    ValueError for rows with NaN or Inf.
    """
    mask = None
    if rows is not None:
        mask = np.zeros(Z.shape[0], dtype=bool)
        mask[np.asarray(rows)] = True
    n = Z.shape[0] if mask is None else int(np.count_nonzero(mask))
    if n < 2:
        raise InsufficientDataError(f"need at least 2 points for a covariance, got {n}")
    moments = cloud_moments(Z, mask, higher=False)
    return moments.mean, moments.cov
