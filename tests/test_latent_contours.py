"""How elliptic the contours are: normal pairs against a pair with diamond-shaped contours."""

from __future__ import annotations

import numpy as np
import pytest

from aegen.latent import contour_ellipticity, ellipse_outline, pair_density, pair_ellipse, sigma_ellipse_occupancy
from aegen.latent.checks import InsufficientDataError
from aegen.latent.contours import _area_moments


def correlated_pair(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    t = np.radians(35.0)
    axes = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    cov = axes @ np.diag([3.0**2, 1.0**2]) @ axes.T
    xy = np.random.default_rng(seed).multivariate_normal([2.0, -1.0], cov, size=n)
    return xy, cov


def test_area_moments_of_an_exact_ellipse():
    cov = np.array([[4.0, 1.2], [1.2, 1.0]])
    outline = ellipse_outline(np.array([1.0, 2.0]), cov, 2.0, n_vertices=2001)[:-1]
    area, centroid, second = _area_moments(outline)
    assert area == pytest.approx(np.pi * 4.0 * np.sqrt(np.linalg.det(cov)), rel=1e-4)
    assert np.allclose(centroid, [1.0, 2.0], atol=1e-6)
    # A filled ellipse of Mahalanobis radius r has second moments r^2 cov / 4.
    assert np.allclose(second, cov, rtol=1e-3)


def test_normal_pair_has_elliptic_contours():
    xy, cov = correlated_pair(60_000)
    result = contour_ellipticity(pair_density(xy))
    assert result["n_closed_levels"] == 4
    reference = pair_ellipse(cov)
    for level in result["levels"]:
        assert level["radial_rms_deviation"] < 0.03
        assert level["size_ratio"] == pytest.approx(1.0, abs=0.05)
        assert level["axis_ratio"] == pytest.approx(result["reference"]["axis_ratio"], abs=0.05)
        assert abs(level["angle_from_covariance_deg"]) < 4.0
    assert result["reference"]["major_axis_angle_deg"] == pytest.approx(reference["major_axis_angle_deg"], abs=2.0)
    assert result["angle_spread_deg"] < 6.0
    for row in sigma_ellipse_occupancy(xy, [1.0, 2.0, 3.0]):
        assert row["fraction_inside"] == pytest.approx(row["expected"], abs=0.01)


def test_diamond_contours_are_measured_as_not_elliptic():
    # Independent Laplace coordinates: density ~ exp(-|x| - |y|), contour lines are diamonds.
    xy = np.random.default_rng(1).laplace(size=(60_000, 2))
    result = contour_ellipticity(pair_density(xy))
    deviations = [lv["radial_rms_deviation"] for lv in result["levels"] if lv["closed"]]
    assert len(deviations) >= 3
    assert max(deviations) > 0.05
    # The same grid on normal data stays well below that.
    normal = contour_ellipticity(pair_density(np.random.default_rng(2).standard_normal((60_000, 2))))
    assert normal["max_radial_rms_deviation"] < 0.03
    # A round cloud has no orientation to report.
    assert normal["angle_spread_deg"] is None and "angle_note" in normal


def test_too_few_points_for_contours():
    with pytest.raises(InsufficientDataError, match="at least 200 points"):
        pair_density(np.zeros((50, 2)))
