"""The multivariate normal of the z-points, whole or restricted to its core ellipsoid."""

from __future__ import annotations

import numpy as np
from scipy import linalg, stats

from aegen.latent.moments import mean_and_covariance
from aegen.latent.sigma import mahalanobis_radius
from aegen.samplers.base import BASE_NOISE, BaseSampler, check_number, standard_normal

_LOG_2PI = np.log(2.0 * np.pi)


def cholesky_factor(covariance: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor L (d, d) with L @ L.T = covariance; ValueError if not positive definite."""
    try:
        return linalg.cholesky(covariance, lower=True)
    except linalg.LinAlgError:
        raise ValueError("the covariance is not positive definite; increase reg_covar") from None


def gaussian_log_density(Z: np.ndarray, mean: np.ndarray, chol: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log density (n,) of N(mean, L L^T) at Z (n, d), and the squared Mahalanobis radii (n,)."""
    whitened = linalg.solve_triangular(chol, (Z - mean).T, lower=True)
    radius2 = np.einsum("ij,ij->j", whitened, whitened)
    log_det = 2.0 * np.log(np.diag(chol)).sum()
    return -0.5 * (radius2 + log_det + mean.size * _LOG_2PI), radius2


class GaussianSampler(BaseSampler):
    """The full multivariate normal N(mean, covariance) of the z-points.

    This is the seed's open question "why not use the confidence ellipses directly": every
    elliptic contour of every component pair at once. ``reg_covar`` is added to the diagonal.

    Fitted: ``mean_`` (d,), ``covariance_`` (d, d).
    """

    method = "gaussian"

    def __init__(self, reg_covar: float = 1e-6, base_noise: str = "random"):
        self.reg_covar = reg_covar
        self.base_noise = base_noise

    def _check_params(self):
        check_number("reg_covar", self.reg_covar, low=0.0)
        if self.base_noise not in BASE_NOISE:
            raise ValueError(f"base_noise must be one of {BASE_NOISE}, got {self.base_noise!r}")

    def _fit(self, Z):
        mean, cov = mean_and_covariance(Z)
        self.mean_ = mean
        self.covariance_ = cov + float(self.reg_covar) * np.eye(cov.shape[0])
        self._after_load()

    def _after_load(self):
        self.cholesky_ = cholesky_factor(self.covariance_)

    def _whitened_to_z(self, whitened: np.ndarray) -> np.ndarray:
        return self.mean_ + whitened @ self.cholesky_.T

    def _sample(self, n, rng):
        return self._whitened_to_z(standard_normal(rng, n, self.mean_.size, self.base_noise))

    def log_prob(self, Z):
        return gaussian_log_density(self._check_input(Z), self.mean_, self.cholesky_)[0]

    def _state_shapes(self, d):
        return {"mean_": (d,), "covariance_": (d, d)}


class TruncatedGaussianSampler(GaussianSampler):
    """The normal of the z-points restricted to its Mahalanobis ellipsoid of level ``sigma``.

    The ellipsoid is the region that holds the probability mass of ``sigma`` (see
    :mod:`aegen.latent.sigma`): in d = 256 dimensions the 2-sigma core has Mahalanobis radius
    R of about 17.2, not 2. Plain rejection from the normal would accept a share of draws
    equal to the core's mass, hopeless for small sigma. This sampler is exact and never
    rejects: in whitened coordinates the core is a ball of radius R, the direction is uniform
    on the sphere and the radius follows the chi distribution with d degrees of freedom
    truncated to [0, R], drawn by inverting its CDF. The density is the normal's renormalised
    by the core's mass, and -inf outside.

    Fitted: ``mean_`` (d,), ``covariance_`` (d, d); derived ``radius_`` (R).
    """

    method = "truncated-gaussian"

    def __init__(self, sigma: float = 2.0, reg_covar: float = 1e-6):
        self.sigma = sigma
        self.reg_covar = reg_covar

    def _check_params(self):
        check_number("sigma", self.sigma, low=0.0, high=8.0, low_open=True)
        check_number("reg_covar", self.reg_covar, low=0.0)

    def _after_load(self):
        super()._after_load()
        d = self.mean_.size
        self.radius_ = mahalanobis_radius(float(self.sigma), d)
        # Mass of the core under the fitted normal; equals the sigma level's mass up to rounding.
        self.core_mass_ = float(stats.chi2.cdf(self.radius_**2, d))
        if not self.core_mass_ > 0:
            raise ValueError(f"sigma={self.sigma} gives a core of zero mass in {d} dimensions")

    def _sample(self, n, rng):
        d = self.mean_.size
        directions = rng.standard_normal((n, d))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        radius2 = stats.chi2.ppf(rng.uniform(size=n) * self.core_mass_, d)
        # Rounding in ppf must never put a point past the boundary.
        radius = np.minimum(np.sqrt(radius2), self.radius_)
        return self._whitened_to_z(directions * radius[:, None])

    def log_prob(self, Z):
        log_density, radius2 = gaussian_log_density(self._check_input(Z), self.mean_, self.cholesky_)
        return np.where(radius2 <= self.radius_**2, log_density - np.log(self.core_mass_), -np.inf)

    def mahalanobis_radius(self, Z) -> np.ndarray:
        """Mahalanobis radii (n,) of Z (n, d) under the fitted normal."""
        return np.sqrt(gaussian_log_density(self._check_input(Z), self.mean_, self.cholesky_)[1])
