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
from scipy import special, stats


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
