"""The seed's open question "why not use confidence ellipses directly?": the confidence ellipsoid itself."""

from __future__ import annotations

import numpy as np

from aegen.latent.fwhm import FWHM_PER_STD
from aegen.latent.sigma import mahalanobis_radius
from aegen.samplers.base import BaseSampler, check_int
from aegen.samplers.core import check_core_params, fit_pca_core


class EllipsoidSampler(BaseSampler):
    """Uniform in the confidence ellipsoid of the z-point core, at the seed's settings.

    The seed constrains every pair of PCA components by a confidence ellipse and asks why
    not use the confidence ellipses directly. Read as a reader of the series would (the
    multivariate normal and its confidence regions): replace the 2-D ellipses by the
    ``n_components``-dimensional confidence ellipsoid at the seed's confidence level, and keep
    everything else of the seed (the PCA of the core, its widths, ``fact``, a constant density).

    Fit: as ellipse-pca (:mod:`aegen.samplers.core`): the z-points within ``fit_sigma``, at
    most ``max_fit_points``, their PCA, and per axis the half-width a_k (histogram FWHM with
    ``bin_width``, or 2.3548 std with ``width="std"``), corrected for the cut with
    ``core_correction``. The seed's limit fact * a_k is a confidence level of
    ``fact * 2.3548`` sigma in each direction (a_k = 2.3548 std for a normal axis; 1.41 to
    1.88 sigma for the seed's 0.6 < fact < 0.8). The ellipsoid: in the coordinates
    w_k = v_k / (a_k / 2.3548) of the PCA coordinates v, the ball |w| <= R that holds the
    normal probability mass of that sigma level in n_components dimensions (the convention of
    :mod:`aegen.latent.sigma`): R = mahalanobis_radius(fact * 2.3548, n_components), 10.9 at
    fact 0.7 and 100 components.

    Sample: uniform in that ellipsoid (the seed's constant density): a uniform direction and
    the radius R U^(1/K); exact, no rejection. Other PCA axes are 0. The other reading, a
    normal restricted to the ellipsoid, is the truncated-gaussian sampler; the geometric
    reading, the ellipsoid whose coordinate-plane sections are the seed's ellipses (radius
    fact * 2.3548, 1.6), would hold almost none of the normal mass in 100 dimensions.

    Parameters are checked in :meth:`fit`. Fitted: ``mean_`` (d,), ``components_``
    (n_components, d), ``half_widths_`` (n_components,), ``component_stds_`` (n_components,),
    ``std_in_bins_`` (n_components,); derived ``sigma_level_`` and ``radius_`` (R).
    """

    method = "ellipsoid"

    def __init__(self, n_components: int = 100, fact: float = 0.7, fit_sigma: float = 3.0,
                 max_fit_points: int = 100_000, bin_width: float | str = "per-component", width: str = "fwhm",
                 core_correction: bool = True, random_state: int = 0):
        self.n_components = n_components
        self.fact = fact
        self.fit_sigma = fit_sigma
        self.max_fit_points = max_fit_points
        self.bin_width = bin_width
        self.width = width
        self.core_correction = core_correction
        self.random_state = random_state

    def _check_params(self):
        check_int("n_components", self.n_components, low=1)
        check_core_params(self)

    def _fit(self, Z):
        core, axes, _, widths = fit_pca_core(self, Z)
        self.mean_, self.components_ = core.mean, axes
        self.half_widths_, self.component_stds_ = widths.half_widths, widths.stds
        self._after_load()

    def _after_load(self):
        ratios = self.fit_info_.get("std_in_bins")
        self.std_in_bins_ = np.asarray(ratios if ratios is not None else [np.nan] * self.n_components, dtype=float)
        self.sigma_level_ = float(self.fact) * FWHM_PER_STD
        self.radius_ = mahalanobis_radius(self.sigma_level_, int(self.n_components))

    def _sample(self, n, rng):
        k = int(self.n_components)
        directions = rng.standard_normal((n, k))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        radii = self.radius_ * rng.uniform(size=n) ** (1.0 / k)
        return self.mean_ + (directions * radii[:, None] * self._sigma_widths()) @ self.components_

    def _sigma_widths(self) -> np.ndarray:
        """a_k / 2.3548: the standard deviations the half-widths stand for."""
        return self.half_widths_ / FWHM_PER_STD

    def ellipsoid_radius(self, V) -> np.ndarray:
        """Radius |w| (n,) of vectors V (n, d) in the ellipsoid's metric; <= radius_ inside."""
        V = self._check_input(V)
        return np.linalg.norm(((V - self.mean_) @ self.components_.T) / self._sigma_widths(), axis=1)

    def log_prob(self, Z):
        raise NotImplementedError(
            "ellipsoid defines no density in the z-space: its vectors lie in the span of its "
            "n_components PCA axes; compare samples instead (e.g. with the evaluation metrics)")

    def _state_shapes(self, d):
        k = int(self.n_components)
        return {"mean_": (d,), "components_": (k, d), "half_widths_": (k,), "component_stds_": (k,)}
