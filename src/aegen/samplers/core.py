"""The fit shared by the samplers that learn from the z-points' core: ellipse-pca, ellipsoid, ellipse-original.

The core is the z-points inside the Mahalanobis ellipsoid of level ``fit_sigma`` (see
:mod:`aegen.latent.sigma`), the radius measured with the mean and covariance of *all*
z-points; at most ``max_fit_points`` of them (a seeded subsample) are used. Cutting a cloud
shrinks its covariance: for a normal cloud in dof dimensions cut at radius R the core's
covariance is :func:`~aegen.latent.sigma.core_variance_ratio` (R, dof) times the full one,
and its FWHM along any direction :func:`~aegen.latent.sigma.core_fwhm_ratio` (R, dof) times
the full one. With ``core_correction`` (the default, right for normal data) the core's
covariance, standard deviations and FWHM widths are divided by these ratios. The correction
is one step: the cut is made once with the full-data covariance and not iterated (for a
normal cloud the full covariance is the true one, so one step is exact; for heavier tails
the full covariance is inflated by them, the cut lies further out than its nominal level, and
the correction, computed for the nominal level, is then too small, never too large). At the
seed's 3-sigma cut in 256 dimensions the ratio is 0.9992 (0.04% in std); it matters for low
levels or few dimensions (0.83 at 1 sigma in 20 dimensions).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from aegen.latent.checks import iter_chunks, subsample_indices
from aegen.latent.fwhm import check_bin_width, component_bin_widths, gaussian_fwhm, histogram_fwhm
from aegen.latent.moments import mean_and_covariance
from aegen.latent.pca import LatentPCA
from aegen.latent.sigma import core_fwhm_ratio, core_variance_ratio, mahalanobis_radius
from aegen.samplers.base import check_int, check_number

# Fewest z-points (within fit_sigma) accepted for a fit.
MIN_CORE_POINTS = 10
WIDTHS = ("fwhm", "std")


@dataclass
class Core:
    """The fit rows of a cloud's core and their (corrected) moments."""

    rows: np.ndarray          # sorted indices of the fit rows (a subsample of the core)
    n_within: int             # z-points inside the cut-off
    radius: float             # Mahalanobis radius of the cut-off
    dof: int                  # dimensions of the radius (rank of the full covariance)
    mean: np.ndarray          # (d,) mean of the fit rows
    covariance: np.ndarray    # (d, d) covariance of the fit rows, divided by variance_ratio
    variance_ratio: float     # core / full covariance for a normal cloud (1.0 without correction)
    fwhm_ratio: float         # core / full FWHM for a normal cloud (1.0 without correction)

    def info(self) -> dict:
        """What fit_info_ records about the core."""
        return {"n_within_fit_sigma": self.n_within, "n_pca_points": int(self.rows.size),
                "fit_mahalanobis_radius": self.radius, "core_dof": self.dof,
                "core_variance_ratio": self.variance_ratio, "core_fwhm_ratio": self.fwhm_ratio}


def check_core_params(sampler) -> None:
    """Check the core-fit parameters every sampler of this family has: ``fact``, ``fit_sigma``,
    ``max_fit_points``, ``bin_width``, ``width``, ``core_correction``, ``random_state``
    (ValueError with the parameter's name otherwise)."""
    check_number("fact", sampler.fact, low=0.0, high=1.0, low_open=True)
    check_number("fit_sigma", sampler.fit_sigma, low=0.0, high=8.0, low_open=True)
    check_int("max_fit_points", sampler.max_fit_points, low=MIN_CORE_POINTS)
    check_bin_width(sampler.bin_width)
    if not isinstance(sampler.width, str) or sampler.width not in WIDTHS:
        raise ValueError(f"width must be 'fwhm' or 'std', got {sampler.width!r}")
    if not isinstance(sampler.core_correction, (bool, np.bool_)):
        raise ValueError(f"core_correction must be True or False, got {sampler.core_correction!r}")
    check_int("random_state", sampler.random_state, low=0)


def sampler_core(sampler, Z: np.ndarray, min_points: int) -> Core:
    """:func:`fit_core` with a sampler's (checked) parameters; records the core in its ``fit_info_``."""
    rng = np.random.default_rng(int(sampler.random_state))
    core = fit_core(Z, float(sampler.fit_sigma), int(sampler.max_fit_points), min_points, rng,
                    bool(sampler.core_correction))
    sampler.fit_info_.update(**core.info(), core_correction=bool(sampler.core_correction),
                             random_state=int(sampler.random_state))
    return core


def fit_pca_core(sampler, Z: np.ndarray) -> tuple[Core, np.ndarray, np.ndarray, "Widths"]:
    """The fit of the PCA-frame samplers (ellipse-pca, ellipsoid): the core, its leading
    ``sampler.n_components`` axes (k, d) and their variances (k,), and the axes' widths.

    Records the core and the widths in ``sampler.fit_info_``. ValueError when n_components
    exceeds the z dimension.
    """
    k, d = int(sampler.n_components), Z.shape[1]
    if k > d:
        # The default (the seed's 100 axes of 256) exceeds a smaller z: say which value to pass.
        raise ValueError(f"n_components must be in 1..{d} (the z dimension), got {k}; "
                         f"n_components={d} uses every axis")
    core = sampler_core(sampler, Z, k + 1)
    pca = LatentPCA().fit_covariance(core.covariance, core.mean)
    axes, variances = pca.components_[:k], pca.explained_variance_[:k]
    widths = measure_widths(project_rows(Z, core.rows, core.mean, axes), sampler.bin_width, sampler.width, core,
                            sampler.method)
    sampler.fit_info_.update(widths.info())
    return core, axes, variances, widths


def rows_within_sigma(Z: np.ndarray, sigma: float) -> tuple[np.ndarray, float, int]:
    """Rows of Z (N, d) inside the Mahalanobis ellipsoid of level ``sigma``: (indices, radius, dof).

    Mean and covariance are those of all of Z. Directions in which the cloud has no extent
    are left out (dof = rank of the covariance).
    """
    mean, cov = mean_and_covariance(Z)
    if not np.trace(cov) > 0:
        raise ValueError("all z-points coincide: nothing to fit")
    pca = LatentPCA().fit_covariance(cov, mean, Z.shape[0])
    radius = mahalanobis_radius(sigma, pca.rank_)
    return np.flatnonzero(pca.mahalanobis_sq(Z) <= radius**2), float(radius), pca.rank_


def fit_core(Z: np.ndarray, fit_sigma: float, max_fit_points: int, min_points: int,
             rng: np.random.Generator, core_correction: bool = True) -> Core:
    """The core of Z (N, d) and its moments; ValueError when fewer than ``min_points`` lie inside."""
    core_rows, radius, dof = rows_within_sigma(Z, fit_sigma)
    need = max(MIN_CORE_POINTS, min_points)
    if core_rows.size < need:
        raise ValueError(f"too few points to fit: {core_rows.size} z-points lie within fit_sigma="
                         f"{fit_sigma:g}, need at least {need}")
    rows = core_rows[subsample_indices(core_rows.size, max_fit_points, rng)]  # sorted, as core_rows is
    mean, cov = mean_and_covariance(Z, rows)
    variance_ratio = core_variance_ratio(radius, dof) if core_correction else 1.0
    fwhm_ratio = core_fwhm_ratio(radius, dof) if core_correction else 1.0
    return Core(rows=rows, n_within=int(core_rows.size), radius=radius, dof=dof, mean=mean,
                covariance=cov / variance_ratio, variance_ratio=variance_ratio, fwhm_ratio=fwhm_ratio)


def project_rows(Z: np.ndarray, rows: np.ndarray, mean: np.ndarray, axes: np.ndarray | None = None) -> np.ndarray:
    """(Z[rows] - mean) (n, d), or its coordinates along ``axes`` (k, d) as (n, k); in chunks."""
    blocks = []
    for start, stop in iter_chunks(rows.size):
        block = np.asarray(Z[rows[start:stop]], dtype=float) - mean
        blocks.append(block if axes is None else block @ axes.T)
    return np.concatenate(blocks)


@dataclass
class Widths:
    """Per-component widths of the fit rows' coordinates (all (k,))."""

    half_widths: np.ndarray   # the seed's "half-width": FWHM (or 2.3548 std), corrected for the core
    stds: np.ndarray          # standard deviations, corrected for the core
    bin_widths: np.ndarray    # histogram bins the FWHM was measured with
    std_in_bins: np.ndarray   # measured std / bin width: the histogram's resolution

    def info(self) -> dict:
        """What fit_info_ records: one bin width when all are equal, else None; std/bin per component."""
        single = self.bin_widths.size and np.all(self.bin_widths == self.bin_widths[0])
        return {"bin_width": float(self.bin_widths[0]) if single else None,
                "std_in_bins": [float(x) for x in self.std_in_bins]}


def measure_widths(coords: np.ndarray, bin_width, width: str, core: Core, method: str,
                   what: str = "PCA component") -> Widths:
    """Widths of each column of ``coords`` (n, k) of the core's fit rows.

    width "fwhm": histogram FWHM with the bins of :func:`~aegen.latent.fwhm.component_bin_widths`;
    "std": 2.3548 standard deviations. A column narrower than one bin gets a one-line warning
    (width "fwhm" only: "std" uses no histogram). ValueError for a column of zero spread.
    """
    measured_stds = coords.std(axis=0, ddof=1)
    flat = np.flatnonzero(~(measured_stds > 0))
    if flat.size:
        raise ValueError(f"{what} {flat[0]} has zero width on the fit points; use fewer components "
                         f"or more z-points")
    bins = component_bin_widths(measured_stds, coords.shape[0], bin_width)
    std_in_bins = measured_stds / bins
    if width == "std":
        half_widths = np.asarray(gaussian_fwhm(measured_stds), dtype=float) / np.sqrt(core.variance_ratio)
    else:
        measured = np.array([histogram_fwhm(coords[:, k], bins[k]) for k in range(coords.shape[1])])
        half_widths = measured / core.fwhm_ratio
        warn_narrow(std_in_bins, method, what)
    return Widths(half_widths=half_widths, stds=measured_stds / np.sqrt(core.variance_ratio),
                  bin_widths=bins, std_in_bins=std_in_bins)


def warn_narrow(std_in_bins: np.ndarray, method: str, what: str = "PCA component") -> None:
    """One-line warning when some component's std is below one histogram bin."""
    narrow = np.flatnonzero(std_in_bins < 1.0)
    if narrow.size:
        warnings.warn(
            f"{method}: {narrow.size} of {std_in_bins.size} kept {what}s are narrower than one histogram bin "
            f"(std/bin down to {std_in_bins[narrow].min():.2g}, first: {what} {narrow[0]}); their FWHM comes out "
            f"about one bin wide: use bin_width='per-component' or width='std'", UserWarning, stacklevel=5)
