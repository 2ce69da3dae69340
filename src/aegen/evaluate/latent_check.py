"""Latent check: do generated z-vectors land where the data's z-points are?

A normal fit (mean and covariance) of the training z-points defines ellipsoids; a z-vector's
Mahalanobis radius says how far out it lies. With aegen's sigma convention
(:mod:`aegen.latent.sigma`) the 2- and 3-sigma ellipsoids in d = 256 dimensions have radii of
about 17.2 and 18.0, not 2 and 3, because that is where 95.4% and 99.7% of the mass of a
256-dimensional normal distribution lie. Generated vectors are compared with held-out
z-points, whose radii show what the real distribution does out of sample.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from sklearn.covariance import LedoitWolf

from aegen.evaluate.metrics import single_threaded_lapack
from aegen.latent.sigma import mahalanobis_radius

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

    def fit(self, Z: np.ndarray) -> "LatentEllipsoid":
        """Fit mean and covariance to z-points Z (N, d)."""
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or len(Z) < 2:
            raise ValueError(f"need z-points of shape (N, d) with N >= 2, got {Z.shape}")
        if not np.all(np.isfinite(Z)):
            raise ValueError("z-points contain NaN or Inf")
        with single_threaded_lapack():
            return self._fit(Z)

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
        if not hasattr(self, "mean_"):
            raise RuntimeError("call fit() before radius()")
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"expected vectors of shape (n, {self.mean_.shape[0]}), got {Z.shape}")
        white = linalg.solve_triangular(self._cholesky, (Z - self.mean_).T, lower=True)
        return np.sqrt(np.einsum("ij,ij->j", white, white))

    def summary(self, Z: np.ndarray, prefix: str = "latent") -> dict:
        """Share of Z (n, d) inside each sigma ellipsoid and the median radius."""
        radii = self.radius(Z)
        out = {f"{prefix}_inside_{_sigma_name(s)}sigma": float(np.mean(radii <= r)) for s, r in self.radii_.items()}
        out[f"{prefix}_radius_median"] = float(np.median(radii))
        return out

    def describe(self) -> dict:
        return {
            "fit_on": f"{self.n_fit_} training z-points", "covariance": self.covariance_estimator_,
            "ellipsoid_radii": {f"{_sigma_name(s)}sigma": r for s, r in self.radii_.items()},
            "convention": "aegen.latent.sigma: the ellipsoid holding the normal mass of +-sigma in 1-D",
        }


def _sigma_name(sigma: float) -> str:
    return f"{sigma:g}".replace(".", "p")
