"""Sigma levels for ellipses and ellipsoids, one convention for all of aegen.

A *sigma level* ``s`` names a region by the probability mass it would hold for a normal
distribution: the mass of the interval [-s, s] of a one-dimensional standard normal,
``erf(s / sqrt(2))`` (68.3% at 1, 95.4% at 2, 99.7% at 3). In ``dof`` dimensions the region
is the Mahalanobis ellipsoid that holds that mass, of squared radius
``chi2.ppf(erf(s / sqrt(2)), dof)``. In one dimension this is plain ``|x| <= s * std``; in
256 dimensions the 3-sigma ellipsoid has Mahalanobis radius about 18.0, not 3, which is why
a literal radius of ``s`` would contain almost no z-points.

The seed's 2-D figures draw ellipses whose semi-axes are ``s`` standard deviations along
the principal axes; :func:`plane_ellipse_radius` gives that radius (``s`` itself) so that
figures can state which convention they draw.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special, stats


def sigma_to_mass(sigma: float | np.ndarray) -> float | np.ndarray:
    """Probability mass of [-sigma, sigma] under a standard normal."""
    sigma = np.asarray(sigma, dtype=float)
    if np.any(sigma <= 0):
        raise ValueError(f"sigma must be > 0, got {sigma}")
    return special.erf(sigma / np.sqrt(2.0))


def mahalanobis_radius(sigma: float, dof: int) -> float:
    """Mahalanobis radius of the ``dof``-dimensional ellipsoid holding the mass of ``sigma``."""
    if dof < 1:
        raise ValueError(f"dof must be >= 1, got {dof}")
    return float(np.sqrt(stats.chi2.ppf(sigma_to_mass(sigma), dof)))


def plane_ellipse_radius(sigma: float) -> float:
    """Mahalanobis radius of the seed's 2-D ellipse at ``sigma``: semi-axes of sigma std."""
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    return float(sigma)


def core_variance_ratio(radius: float, dof: int) -> float:
    """Covariance of a normal cloud's core over its full covariance: F_chi2(dof+2)(R^2) / F_chi2(dof)(R^2).

    The core is the points within Mahalanobis radius ``radius`` = R of the centre of a
    ``dof``-dimensional normal distribution, R measured with the full covariance Sigma. Its
    covariance is this scalar times Sigma. Why: in whitened coordinates the core is a ball, so
    by symmetry its covariance is E[r^2 | r^2 <= R^2] / dof times the identity, with
    r^2 ~ chi2(dof); and x f_dof(x) = dof f_(dof+2)(x) for the chi2 densities, so
    E[r^2; r^2 <= R^2] = dof F_(dof+2)(R^2). Dividing a core covariance by this ratio recovers
    Sigma for normal data; for heavier tails than normal it is a lower bound on the correction.
    """
    if dof < 1:
        raise ValueError(f"dof must be >= 1, got {dof}")
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius}")
    mass = stats.chi2.cdf(radius**2, dof)
    if not mass > 0:
        raise ValueError(f"a radius of {radius:g} holds no mass in {dof} dimensions")
    return float(stats.chi2.cdf(radius**2, dof + 2) / mass)


def core_fwhm_ratio(radius: float, dof: int) -> float:
    """FWHM of a normal cloud's core along any direction over the FWHM of the full normal.

    The FWHM counterpart of :func:`core_variance_ratio` (same core). In whitened coordinates
    the core's marginal along any unit direction t is proportional to
    phi(t) F_chi2(dof-1)(R^2 - t^2) for |t| <= R; the cut thins the tails more than the peak,
    so this ratio is closer to 1 than sqrt(core_variance_ratio). Solved numerically.
    """
    if dof < 1:
        raise ValueError(f"dof must be >= 1, got {dof}")
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius}")
    half_max = np.sqrt(2.0 * np.log(2.0))  # half of the normal's FWHM, in std
    if dof == 1:
        return float(min(1.0, radius / half_max))
    peak = stats.chi2.cdf(radius**2, dof - 1)
    if not peak > 0:
        raise ValueError(f"a radius of {radius:g} holds no mass in {dof} dimensions")

    def above_half(t: float) -> float:
        return np.exp(-t * t / 2.0) * stats.chi2.cdf(max(radius**2 - t * t, 0.0), dof - 1) / peak - 0.5

    # above_half(0) = 1/2 > 0 and above_half(min(R, half_max)) <= 0: the root lies between.
    return float(optimize.brentq(above_half, 0.0, min(radius, half_max), xtol=1e-12) / half_max)
