"""Latent check: do generated z-vectors land where the data's z-points are?

A normal fit (mean and covariance) of the training z-points defines ellipsoids; a z-vector's
Mahalanobis radius says how far out it lies. With aegen's sigma convention
(:mod:`aegen.latent.sigma`) the 2- and 3-sigma ellipsoids in d = 256 dimensions have radii of
about 17.2 and 18.0, not 2 and 3, because that is where 95.4% and 99.7% of the mass of a
256-dimensional normal distribution lie. Generated vectors are compared with held-out
z-points, whose radii show what the real distribution does out of sample.

The check is two-sided: in 256 dimensions the z-points lie on a shell (held-out radii
within a narrow band), so a vector near the centre is as foreign to the decoder as one far
out, yet "inside the 3-sigma ellipsoid". The headline columns are therefore the share of
radii inside the held-out radii's [p1, p99] band and the Kolmogorov-Smirnov distance between
generated and held-out radii. A copying guard in latent space asks, for each vector, whether
its nearest z-point (whitened units) among the training and held-out z-points is a training
one more often than the sets' sizes predict
(:func:`aegen.evaluate.memorisation.train_vs_heldout_test`): a learned prior that memorises
its training points shows a z-score far below 0.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy import stats
from sklearn.covariance import LedoitWolf

from aegen.evaluate.memorisation import train_vs_heldout_test
from aegen.evaluate.metrics import single_threaded_lapack
from aegen.latent.checks import check_zpoints
from aegen.latent.sigma import mahalanobis_radius

# The band of held-out radii a generated radius should fall in, in percent.
BAND_PERCENTILES = (1.0, 99.0)
# Rows of whitened training points per nearest-neighbour block.
NN_BLOCK_ROWS = 4096

# Below this many training points per dimension the sample covariance is too noisy (or
# singular), and the Ledoit-Wolf shrinkage estimate is used instead.
MIN_POINTS_PER_DIM = 2


class LatentEllipsoid:
    """Normal fit of z-points and the Mahalanobis radii of new vectors against it.

    sigmas: the sigma levels whose ellipsoids are reported (default 2 and 3).
    Attributes after fit: mean_ (d,), covariance_ (d, d), covariance_estimator_ (str),
    radii_ {sigma: Mahalanobis radius of that ellipsoid}, n_fit_.
    """

    def __init__(self, sigmas: tuple[float, ...] = (2.0, 3.0)):
        if not sigmas or any(s <= 0 for s in sigmas):
            raise ValueError(f"sigmas must be positive, got {sigmas}")
        self.sigmas = tuple(float(s) for s in sigmas)

    def fit(self, Z: np.ndarray, Z_heldout: np.ndarray | None = None) -> "LatentEllipsoid":
        """Fit mean and covariance to training z-points Z (N, d).

        Z_heldout (M, d), optional: held-out z-points whose radii define the two-sided band
        and the KS distance's reference, and which with Z make the copying guard's two sets.
        """
        Z = np.asarray(check_zpoints(Z, min_points=2), dtype=np.float64)
        with single_threaded_lapack():
            self._fit(Z)
        if Z_heldout is not None:
            Z_heldout = np.asarray(Z_heldout, dtype=np.float64)
            self.heldout_radii_ = self.radius(Z_heldout)
            self.band_ = tuple(float(v) for v in np.percentile(self.heldout_radii_, BAND_PERCENTILES))
            self._train_white = self.whiten(Z).astype(np.float32)
            self._heldout_white = self.whiten(Z_heldout).astype(np.float32)
        return self

    def whiten(self, Z: np.ndarray) -> np.ndarray:
        """Whitened coordinates (n, d): L^-1 (z - mean), L the Cholesky factor of the covariance."""
        if not hasattr(self, "mean_"):
            raise RuntimeError("call fit() before whiten()")
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"expected vectors of shape (n, {self.mean_.shape[0]}), got {Z.shape}")
        return linalg.solve_triangular(self._cholesky, (Z - self.mean_).T, lower=True).T

    @staticmethod
    def _nearest(queries: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance (n,) from each query row to its nearest row of ``points``, and that row (n,)."""
        q_norms = np.einsum("ij,ij->i", queries, queries)
        best = np.full(len(queries), np.inf, dtype=np.float64)
        best_index = np.zeros(len(queries), dtype=np.int64)
        for start in range(0, len(points), NN_BLOCK_ROWS):
            block = points[start:start + NN_BLOCK_ROWS]
            squared = q_norms[:, None] + np.einsum("ij,ij->i", block, block)[None, :] - 2.0 * queries @ block.T
            index = squared.argmin(axis=1)
            value = squared[np.arange(len(queries)), index]
            better = value < best
            best[better], best_index[better] = value[better], index[better] + start
        return np.sqrt(np.clip(best, 0.0, None)), best_index

    def copy_test(self, Z: np.ndarray) -> dict:
        """The copying guard for vectors Z (n, d): nearest training vs nearest held-out z-point.

        It applies only to vectors on the shell of the z-points: vectors inside its hollow (or
        far outside) all share the few innermost (outermost) points as nearest neighbours, so
        their answers are one answer repeated. Below half of the vectors in the held-out radius
        band, ``latent_copy_applicable`` is False and nothing is flagged.
        """
        queries = self.whiten(Z).astype(np.float32)
        to_train, train_index = self._nearest(queries, self._train_white)
        to_heldout, heldout_index = self._nearest(queries, self._heldout_white)
        result = train_vs_heldout_test(to_train, to_heldout, len(self._train_white), len(self._heldout_white),
                                       train_index, heldout_index)
        radii = np.sqrt(np.einsum("ij,ij->i", queries, queries, dtype=np.float64))
        applicable = bool(np.mean((radii >= self.band_[0]) & (radii <= self.band_[1])) >= 0.5)
        result["copy_flagged"] = result["copy_flagged"] and applicable
        return {**{f"latent_{k}": v for k, v in result.items()}, "latent_copy_applicable": applicable}

    def _fit(self, Z: np.ndarray) -> "LatentEllipsoid":
        n, d = Z.shape
        self.mean_ = Z.mean(axis=0)
        if n >= MIN_POINTS_PER_DIM * d:
            self.covariance_ = np.cov(Z, rowvar=False).reshape(d, d)
            self.covariance_estimator_ = "sample covariance"
        else:
            self.covariance_ = LedoitWolf().fit(Z).covariance_
            self.covariance_estimator_ = f"Ledoit-Wolf shrinkage (only {n} points for {d} dimensions)"
        # A tiny ridge keeps the Cholesky factor defined for a rank-deficient covariance.
        ridge = 1e-10 * max(np.trace(self.covariance_) / d, 1e-300)
        self._cholesky = linalg.cholesky(self.covariance_ + ridge * np.eye(d), lower=True)
        self.radii_ = {s: mahalanobis_radius(s, d) for s in self.sigmas}
        self.n_fit_ = n
        return self

    def radius(self, Z: np.ndarray) -> np.ndarray:
        """Mahalanobis radii (n,) of vectors Z (n, d) under the fitted normal distribution."""
        white = self.whiten(Z)
        return np.sqrt(np.einsum("ij,ij->i", white, white))

    def summary(self, Z: np.ndarray, prefix: str = "latent") -> dict:
        """Two-sided checks of vectors Z (n, d) against the held-out z-points (when fitted with them).

        ``*_in_band``: share of radii inside the held-out [p1, p99] band; ``*_radius_ks``: the
        KS distance between generated and held-out radii; plus the median radius and the share
        inside each sigma ellipsoid (one-sided, kept for comparison).
        """
        radii = self.radius(Z)
        out = {f"{prefix}_inside_{_sigma_name(s)}sigma": float(np.mean(radii <= r)) for s, r in self.radii_.items()}
        out[f"{prefix}_radius_median"] = float(np.median(radii))
        if hasattr(self, "band_"):
            low, high = self.band_
            out[f"{prefix}_in_band"] = float(np.mean((radii >= low) & (radii <= high)))
            out[f"{prefix}_radius_ks"] = float(stats.ks_2samp(radii, self.heldout_radii_).statistic)
        return out

    def describe(self) -> dict:
        return {
            "fit_on": f"{self.n_fit_} training z-points", "covariance": self.covariance_estimator_,
            "ellipsoid_radii": {f"{_sigma_name(s)}sigma": r for s, r in self.radii_.items()},
            "convention": "aegen.latent.sigma: the ellipsoid holding the normal mass of +-sigma in 1-D",
            "band": (None if not hasattr(self, "band_") else
                     {"percentiles": list(BAND_PERCENTILES), "radii": list(self.band_),
                      "heldout_points": int(len(self.heldout_radii_))}),
            "copy_guard": ("share of vectors whose nearest z-point (whitened) among training and held-out z-points is "
                           "a training one, as a z-score against the share the set sizes predict; < -3: copying"),
        }


def _sigma_name(sigma: float) -> str:
    return f"{sigma:g}".replace(".", "p")
