"""The seed's generator: pairwise ellipse conditions in the PCA frame of the z-point core."""

from __future__ import annotations

import numpy as np

from aegen.latent.fwhm import gaussian_fwhm, histogram_fwhm
from aegen.latent.sigma import mahalanobis_radius
from aegen.samplers.base import CHUNK_ROWS, BaseSampler, check_int, check_number, mean_and_covariance
from aegen.samplers.ellipse_process import BACKENDS, resolve_backend, unit_ellipse_process

# Eigenvalues below this fraction of the largest count as zero when measuring Mahalanobis radii.
_RANK_TOLERANCE = 1e-9
# Fewest z-points (within fit_sigma) accepted for the PCA and the histograms.
_MIN_CORE_POINTS = 10


class EllipsePCASampler(BaseSampler):
    """The seed's method: random vectors obeying every pairwise ellipse condition in PCA space.

    Fit: the z-points within ``fit_sigma`` of the centre (Mahalanobis ellipsoid of that sigma
    level, see :mod:`aegen.latent.sigma`), at most ``max_fit_points`` of them (a seeded
    subsample), define a PCA. For each of the first ``n_components`` axes the width a_k is the
    full width at half maximum of the histogram of the projections, bin width ``bin_width``
    ("auto": Scott's rule for the widest axis, one width for all axes as in the seed, which is
    why narrow axes lose resolution); ``width="std"`` uses 2.3548 standard deviations instead.
    a_k is the seed's "half-width" (Halbwertsbreite), used as the semi-axis of the ellipses.

    Sample: every pair (i, j) of the axes once, in random order; a coin picks which is fixed;
    an unset fixed v_i is uniform in [-fact a_i, fact a_i]; v_j must satisfy
    |v_j| <= fact a_j sqrt(1 - v_i^2 / (fact a_i)^2) and is redrawn uniformly in that range if
    unset or outside. Other axes are 0; the inverse PCA gives latent vectors. The simulation is
    :func:`~aegen.samplers.ellipse_process.unit_ellipse_process` (exact, fast); ``backend``
    "auto" uses its compiled numba kernel when numba is installed, else numpy ("numba" and
    "numpy" force one). The backend that drew the last samples is recorded in
    ``fit_info_["sample_backend"]``; for one seed the two give different, equally distributed
    vectors.

    Fitted: ``mean_`` (d,), ``components_`` (n_components, d), ``half_widths_``
    (n_components,), ``component_stds_`` (n_components,). For generated V,
    ``((V - mean_) @ components_.T) / (fact * half_widths_)`` are the normalised coordinates u,
    with u_i^2 + u_j^2 <= 1 for every pair.
    """

    method = "ellipse-pca"

    def __init__(self, n_components: int = 100, fact: float = 0.7, fit_sigma: float = 3.0,
                 max_fit_points: int = 100_000, bin_width: float | str = "auto", width: str = "fwhm",
                 random_state: int = 0, n_jobs: int = 1, backend: str = "auto"):
        self.n_components = check_int("n_components", n_components, low=1)
        self.fact = check_number("fact", fact, low=0.0, high=1.0, low_open=True)
        self.fit_sigma = check_number("fit_sigma", fit_sigma, low=0.0, high=8.0, low_open=True)
        self.max_fit_points = check_int("max_fit_points", max_fit_points, low=_MIN_CORE_POINTS)
        if bin_width != "auto":
            bin_width = check_number("bin_width", bin_width, low=0.0, low_open=True)
        self.bin_width = bin_width
        if width not in ("fwhm", "std"):
            raise ValueError(f"width must be 'fwhm' or 'std', got {width!r}")
        self.width = width
        self.random_state = check_int("random_state", random_state, low=0)
        self.n_jobs = check_int("n_jobs", n_jobs, low=1)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.backend = backend

    def _fit(self, Z):
        n_points, d = Z.shape
        if self.n_components > d:
            raise ValueError(f"n_components must be in 1..{d} (the z dimension), got {self.n_components}")
        rng = np.random.default_rng(self.random_state)
        core_rows, radius = _rows_within_sigma(Z, self.fit_sigma)
        if core_rows.size < max(_MIN_CORE_POINTS, self.n_components + 1):
            raise ValueError(f"too few points to fit: {core_rows.size} z-points lie within fit_sigma="
                             f"{self.fit_sigma:g}, need at least {max(_MIN_CORE_POINTS, self.n_components + 1)}")
        fit_rows = core_rows
        if core_rows.size > self.max_fit_points:
            fit_rows = np.sort(rng.choice(core_rows, size=self.max_fit_points, replace=False))

        mean, cov = mean_and_covariance(Z, fit_rows)
        variances, axes = np.linalg.eigh(cov)
        order = np.argsort(variances)[::-1][: self.n_components]
        axes = axes[:, order].T
        # Orientation convention: the largest loading of each axis is positive.
        axes *= np.where(axes[np.arange(len(axes)), np.argmax(np.abs(axes), axis=1)] < 0, -1.0, 1.0)[:, None]
        projections = np.concatenate([
            (np.asarray(Z[fit_rows[start:start + CHUNK_ROWS]], dtype=float) - mean) @ axes.T
            for start in range(0, fit_rows.size, CHUNK_ROWS)
        ])
        stds = projections.std(axis=0, ddof=1)
        bin_width = self.bin_width
        if bin_width == "auto":
            bin_width = 3.49 * stds[0] * fit_rows.size ** (-1.0 / 3.0)  # Scott's rule, widest axis
        if self.width == "std":
            half_widths = np.asarray(gaussian_fwhm(stds), dtype=float)
        else:
            half_widths = np.array([histogram_fwhm(projections[:, k], bin_width) for k in range(self.n_components)])
        if np.any(half_widths <= 0):
            raise ValueError("a PCA axis has zero width on the fit points; use fewer n_components")

        self.mean_, self.components_ = mean, axes
        self.half_widths_, self.component_stds_ = half_widths, stds
        self.fit_info_.update(
            n_within_fit_sigma=int(core_rows.size), n_pca_points=int(fit_rows.size),
            fit_mahalanobis_radius=radius, bin_width=float(bin_width),
            explained_variance_ratio=float(variances[order].sum() / max(variances.sum(), 1e-300)),
            random_state=self.random_state,
        )

    def _sample(self, n, rng):
        backend = resolve_backend(self.backend)
        u = unit_ellipse_process(n, self.n_components, rng, n_jobs=self.n_jobs, backend=backend)
        self.fit_info_["sample_backend"] = backend
        return self.from_unit(u)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Latent vectors (n, d) from normalised PCA coordinates u (n, n_components)."""
        self._check_fitted()
        return self.mean_ + (np.asarray(u, dtype=float) * (self.fact * self.half_widths_)) @ self.components_

    def to_unit(self, V) -> np.ndarray:
        """Normalised PCA coordinates u (n, n_components) of latent vectors V (n, d)."""
        V = self._check_input(V)
        return ((V - self.mean_) @ self.components_.T) / (self.fact * self.half_widths_)

    def log_prob(self, Z):
        raise NotImplementedError(
            "ellipse-pca defines no closed-form density: its vectors come from a sequential random "
            "process; compare samples instead (e.g. with the evaluation metrics)")

    def _state_shapes(self, d):
        k = self.n_components
        return {"mean_": (d,), "components_": (k, d), "half_widths_": (k,), "component_stds_": (k,)}


def _rows_within_sigma(Z: np.ndarray, sigma: float) -> tuple[np.ndarray, float]:
    """Indices of the rows of Z inside the Mahalanobis ellipsoid of level ``sigma``, and its radius.

    Directions in which the cloud has no extent are left out (dof = rank of the covariance).
    """
    mean, cov = mean_and_covariance(Z)
    variances, axes = np.linalg.eigh(cov)
    keep = variances > _RANK_TOLERANCE * max(variances.max(), 1e-300)
    if not keep.any():
        raise ValueError("all z-points coincide: nothing to fit")
    scaled_axes = axes[:, keep] / np.sqrt(variances[keep])
    radius = mahalanobis_radius(sigma, int(keep.sum()))
    inside = []
    for start in range(0, Z.shape[0], CHUNK_ROWS):
        whitened = (np.asarray(Z[start:start + CHUNK_ROWS], dtype=float) - mean) @ scaled_axes
        inside.append(start + np.flatnonzero(np.einsum("ij,ij->i", whitened, whitened) <= radius**2))
    return np.concatenate(inside), float(radius)
