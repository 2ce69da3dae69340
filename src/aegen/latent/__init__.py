"""Latent-space analysis: what the z-point cloud of a trained autoencoder looks like.

Every function takes an (N, d) array of z-points (memory-mapped arrays are read in chunks).
:func:`analyze_zpoints` runs the whole analysis and writes figures plus summary.json.
"""

from aegen.latent.analyze import DEFAULT_SIGMAS, analyze_run, analyze_zpoints
from aegen.latent.checks import InsufficientDataError, check_zpoints
from aegen.latent.components import ComponentHistograms, component_histograms, component_summary
from aegen.latent.contours import contour_ellipticity, pair_density, sigma_ellipse_occupancy
from aegen.latent.correlation import correlation_matrix, correlation_summary, top_correlated_pairs
from aegen.latent.fwhm import gaussian_fwhm, histogram_fwhm
from aegen.latent.geometry import CloudGeometry, cloud_geometry, ellipse_outline, pair_ellipse
from aegen.latent.moments import CloudMoments, cloud_moments
from aegen.latent.normality import (
    fraction_beyond,
    henze_zirkler_test,
    joint_normality_tests,
    mardia_kurtosis,
    mardia_skewness,
    mardia_test,
    shapiro_per_component,
)
from aegen.latent.pca import LatentPCA
from aegen.latent.resolution import pca_fwhm_table
from aegen.latent.sigma import mahalanobis_radius, plane_ellipse_radius, sigma_to_mass

__all__ = [
    "DEFAULT_SIGMAS", "CloudGeometry", "CloudMoments", "ComponentHistograms", "InsufficientDataError",
    "LatentPCA", "analyze_run", "analyze_zpoints", "check_zpoints", "cloud_geometry", "cloud_moments",
    "component_histograms", "component_summary", "contour_ellipticity", "correlation_matrix",
    "correlation_summary", "ellipse_outline", "fraction_beyond", "gaussian_fwhm", "henze_zirkler_test",
    "histogram_fwhm", "joint_normality_tests", "mahalanobis_radius", "mardia_kurtosis", "mardia_skewness",
    "mardia_test",
    "pair_density", "pair_ellipse", "pca_fwhm_table", "plane_ellipse_radius", "shapiro_per_component",
    "sigma_ellipse_occupancy", "sigma_to_mass", "top_correlated_pairs",
]
