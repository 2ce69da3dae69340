"""PCA of z-points from their covariance, and squared Mahalanobis radii in its frame.

The one home of a principal-axis decomposition in aegen: the analysis fits :class:`LatentPCA`
on a cloud's moments, the samplers (the seed family's PCA frame, the learned samplers'
whitening) on a covariance of their own with :meth:`LatentPCA.fit_covariance`.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_scalar

from aegen.latent.checks import CHUNK_ROWS, InsufficientDataError, iter_chunks
from aegen.latent.moments import CloudMoments, cloud_moments

# Eigenvalues below this fraction of the largest count as zero: directions the cloud does
# not extend into (dead latent components, or N <= d). Mahalanobis radii ignore them.
RANK_TOLERANCE = 1e-9


class LatentPCA:
    """Principal component analysis of an (N, d) z-point cloud, fitted from its covariance.

    Works in one chunked pass over the data, so memory-mapped clouds of any N fit. Attributes
    after :meth:`fit`:

    - ``mean_`` (d,): centre of the cloud; the PCA frame is centred there.
    - ``components_`` (d, d): principal axes as rows, by decreasing variance; each axis is
      signed so that its largest loading is positive (a deterministic orientation).
    - ``explained_variance_`` (d,): variance along each axis (divisor N - 1).
    - ``explained_variance_ratio_`` (d,) and ``cumulative_variance_ratio_`` (d,).
    - ``rank_``: number of axes with variance above ``rank_tolerance`` times the largest.
    - ``n_samples_``: N (None when fitted from a bare covariance).
    """

    def __init__(self, rank_tolerance: float = RANK_TOLERANCE):
        self.rank_tolerance = rank_tolerance

    def fit(self, Z: np.ndarray, progress: bool = False) -> "LatentPCA":
        """Fit to ``Z`` (N, d); returns self."""
        return self.fit_moments(cloud_moments(Z, progress=progress))

    def fit_moments(self, moments: CloudMoments) -> "LatentPCA":
        """Fit from already computed :class:`CloudMoments`; returns self."""
        moments.require(2, "PCA")
        return self.fit_covariance(moments.cov, moments.mean, moments.n)

    def fit_covariance(self, cov: np.ndarray, mean: np.ndarray | None = None,
                       n_samples: int | None = None) -> "LatentPCA":
        """Fit from a covariance (d, d), centred at ``mean`` (d,; default the origin); returns self.

        ``n_samples``: the number of points behind the covariance, recorded as ``n_samples_``.
        """
        check_scalar(self.rank_tolerance, "rank_tolerance", numbers.Real, min_val=0.0, max_val=1.0,
                     include_boundaries="left")
        cov = np.asarray(cov, dtype=np.float64)
        if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] == 0:
            raise ValueError(f"a covariance must be a square (d, d) matrix, got shape {cov.shape}")
        variances, axes = np.linalg.eigh(cov)
        order = np.argsort(variances)[::-1]
        variances = np.clip(variances[order], 0.0, None)
        axes = axes[:, order].T
        signs = np.sign(axes[np.arange(len(axes)), np.argmax(np.abs(axes), axis=1)])
        axes *= np.where(signs == 0, 1.0, signs)[:, None]
        total = variances.sum()
        if total <= 0:
            raise InsufficientDataError("PCA needs a cloud with non-zero spread; all points coincide")
        self.mean_ = np.zeros(cov.shape[0]) if mean is None else np.array(mean, dtype=np.float64)
        self.components_ = axes
        self.explained_variance_ = variances
        self.explained_variance_ratio_ = variances / total
        self.cumulative_variance_ratio_ = np.cumsum(self.explained_variance_ratio_)
        self.rank_ = int(np.count_nonzero(variances > self.rank_tolerance * variances[0]))
        self.n_samples_ = n_samples
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "components_"):
            raise ValueError("LatentPCA is not fitted yet; call fit() first")

    def n_components_for(self, fraction: float) -> int:
        """Smallest number of leading components whose variance ratios sum to ``fraction``."""
        self._check_fitted()
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        # A little slack so that fraction=1.0 is reached despite rounding of the cumulative sum.
        hits = np.nonzero(self.cumulative_variance_ratio_ >= fraction - 1e-12)[0]
        return int(hits[0]) + 1 if len(hits) else len(self.cumulative_variance_ratio_)

    def transform(self, Z: np.ndarray, components: np.ndarray | list[int] | None = None,
                  chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
        """PCA coordinates of ``Z`` (n, d): (n, k) float64 for the ``components`` asked (all by default)."""
        self._check_fitted()
        axes = self.components_ if components is None else self.components_[np.asarray(components)]
        out = np.empty((Z.shape[0], axes.shape[0]))
        for start, stop in iter_chunks(Z.shape[0], chunk_rows):
            out[start:stop] = (np.asarray(Z[start:stop], dtype=np.float64) - self.mean_) @ axes.T
        return out

    def inverse_transform(self, scores: np.ndarray) -> np.ndarray:
        """Original coordinates (n, d) of PCA coordinates ``scores`` (n, k) of the leading k axes."""
        self._check_fitted()
        scores = np.asarray(scores, dtype=np.float64)
        return scores @ self.components_[: scores.shape[1]] + self.mean_

    def mahalanobis_sq(self, Z: np.ndarray, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
        """Squared Mahalanobis radii (n,) of ``Z`` (n, d) from the centre, over the ``rank_`` axes."""
        self._check_fitted()
        axes = self.components_[: self.rank_]
        inv_var = 1.0 / self.explained_variance_[: self.rank_]
        out = np.empty(Z.shape[0])
        for start, stop in iter_chunks(Z.shape[0], chunk_rows):
            scores = (np.asarray(Z[start:stop], dtype=np.float64) - self.mean_) @ axes.T
            out[start:stop] = (scores * scores) @ inv_var
        return out
