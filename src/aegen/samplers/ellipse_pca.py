"""The seed's generator: pairwise ellipse conditions in the PCA frame of the z-point core."""

from __future__ import annotations

import warnings

import numpy as np

from aegen.latent.fwhm import LEGACY_BIN_RULES
from aegen.samplers.base import BaseSampler, check_int
from aegen.samplers.core import check_core_params, fit_pca_core
from aegen.samplers.ellipse_process import check_backend, resolve_backend, unit_ellipse_process


class EllipsePCASampler(BaseSampler):
    """The seed's method: random vectors obeying every pairwise ellipse condition in PCA space.

    Fit (:mod:`aegen.samplers.core`): the z-points within ``fit_sigma`` of the centre
    (Mahalanobis ellipsoid of that sigma level, see :mod:`aegen.latent.sigma`), at most
    ``max_fit_points`` of them (a seeded subsample), define a PCA. For each of the first
    ``n_components`` axes the width a_k is the full width at half maximum of the histogram of
    the projections (``width="fwhm"``) or 2.3548 standard deviations (``width="std"``). a_k is
    the seed's "half-width" (Halbwertsbreite), used as the semi-axis of the ellipses.
    ``bin_width`` chooses the histogram's bins (:func:`aegen.latent.fwhm.component_bin_widths`):
    "per-component" (default) gives each axis its own bin, so that its FWHM stays within a
    few percent of 2.3548 std at any width; "seed" is the seed's choice, one bin from the
    widest axis (Scott's rule) for all, which measures axes narrower than about a bin about a
    bin wide; "auto" is the earlier name of "seed" (samplers saved before per-component bins
    carry it; fitting with it warns); a number is one bin for all. An axis narrower than one
    bin gets a one-line warning. ``core_correction`` (default True, right for normal data)
    undoes the shrinking of widths by the cut at ``fit_sigma`` (one step; see
    :mod:`aegen.samplers.core`).

    Sample: every pair (i, j) of the axes once, in random order; a coin picks which is fixed;
    an unset fixed v_i is uniform in [-fact a_i, fact a_i]; v_j must satisfy
    |v_j| <= fact a_j sqrt(1 - v_i^2 / (fact a_i)^2) and is redrawn uniformly in that range if
    unset or outside. Other axes are 0; the inverse PCA gives latent vectors. The simulation is
    :func:`~aegen.samplers.ellipse_process.unit_ellipse_process` (exact, fast); ``backend``
    "auto" uses its compiled numba kernel when numba is installed, else numpy ("numba" and
    "numpy" force one). The backend that drew the last samples is recorded in
    ``last_sample_info["backend"]``; for one seed the two give different, equally distributed
    vectors.

    Fitted: ``mean_`` (d,), ``components_`` (n_components, d), ``half_widths_``
    (n_components,), ``component_stds_`` (n_components,), ``std_in_bins_`` (n_components,):
    each axis's measured std over its histogram bin (its resolution; below 1 the FWHM is
    about a bin wide). For generated V, ``((V - mean_) @ components_.T) / (fact * half_widths_)``
    are the normalised coordinates u, with u_i^2 + u_j^2 <= 1 for every pair.

    Samplers saved by earlier versions load unchanged: their saved widths are used as they are
    (so they sample as before), and they report ``core_correction=False``, as they were
    fitted. ``EllipsePCASampler(bin_width="seed", core_correction=False)`` refits the earlier
    default exactly.
    """

    method = "ellipse-pca"

    def __init__(self, n_components: int = 100, fact: float = 0.7, fit_sigma: float = 3.0,
                 max_fit_points: int = 100_000, bin_width: float | str = "per-component", width: str = "fwhm",
                 random_state: int = 0, n_jobs: int = 1, backend: str = "auto", core_correction: bool = True):
        self.n_components = n_components
        self.fact = fact
        self.fit_sigma = fit_sigma
        self.max_fit_points = max_fit_points
        self.bin_width = bin_width
        self.width = width
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.backend = backend
        self.core_correction = core_correction

    def _check_params(self):
        check_int("n_components", self.n_components, low=1)
        check_core_params(self)
        check_int("n_jobs", self.n_jobs, low=1)
        check_backend(self.backend)

    def _fit(self, Z):
        if isinstance(self.bin_width, str) and self.bin_width in LEGACY_BIN_RULES:
            warnings.warn(f"ellipse-pca: bin_width={self.bin_width!r} is the earlier name of "
                          f"{LEGACY_BIN_RULES[self.bin_width]!r} (the seed's one bin for all components); "
                          f"say bin_width='seed' for it, or use the default 'per-component'", FutureWarning,
                          stacklevel=3)
        core, axes, variances, widths = fit_pca_core(self, Z)
        self.mean_, self.components_ = core.mean, axes
        self.half_widths_, self.component_stds_ = widths.half_widths, widths.stds
        self.fit_info_.update(explained_variance_ratio=float(variances.sum() / max(np.trace(core.covariance), 1e-300)))
        self._after_load()

    def _restore_params_from_fit(self):
        # Saved before the core correction existed: fitted without it.
        if "core_correction" not in self.fit_info_:
            self.core_correction = False

    def _after_load(self):
        ratios = self.fit_info_.get("std_in_bins")
        if ratios is not None and len(ratios) == self.n_components:
            self.std_in_bins_ = np.asarray(ratios, dtype=float)
        elif self.fit_info_.get("bin_width"):  # saved before per-component bins: one bin for all
            self.std_in_bins_ = self.component_stds_ / float(self.fit_info_["bin_width"])
        else:
            self.std_in_bins_ = np.full(self.n_components, np.nan)

    def _sample(self, n, rng):
        backend = resolve_backend(self.backend)
        u = unit_ellipse_process(n, int(self.n_components), rng, n_jobs=int(self.n_jobs), backend=backend)
        self.last_sample_info["backend"] = backend
        return self.from_unit(u)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Latent vectors (n, d) from normalised PCA coordinates u (n, n_components)."""
        self._check_fitted()
        return self.mean_ + (np.asarray(u, dtype=float) * (float(self.fact) * self.half_widths_)) @ self.components_

    def to_unit(self, V) -> np.ndarray:
        """Normalised PCA coordinates u (n, n_components) of latent vectors V (n, d)."""
        V = self._check_input(V)
        return ((V - self.mean_) @ self.components_.T) / (float(self.fact) * self.half_widths_)

    def pair_excess(self, V) -> np.ndarray:
        """Per vector of V (n, d), the largest u_i^2 + u_j^2 - 1 over pairs of normalised coordinates.

        <= 0 exactly when every pair condition holds, i.e. the vector lies inside all of the
        seed's ellipses; the largest pair sum is that of the two largest u_k^2.
        """
        squares = np.sort(self.to_unit(V) ** 2, axis=1)
        return squares[:, -2:].sum(axis=1) - 1.0 if squares.shape[1] > 1 else squares[:, 0] - 1.0

    def log_prob(self, Z):
        raise NotImplementedError(
            "ellipse-pca defines no closed-form density: its vectors come from a sequential random "
            "process; compare samples instead (e.g. with the evaluation metrics)")

    def _state_shapes(self, d):
        k = int(self.n_components)
        return {"mean_": (d,), "components_": (k, d), "half_widths_": (k,), "component_stds_": (k,)}

