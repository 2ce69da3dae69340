"""How elliptic are the contour lines of a 2-D z-point density?

The density of a pair of coordinates is estimated on a grid (a 2-D histogram smoothed by a
Gaussian kernel). Its contour lines are drawn at the density values that the Gaussian with
the pair's mean and covariance has on its sigma ellipses, so that for normal data the
contour at level ``s`` coincides with the ``s``-sigma ellipse. Each contour is then
described by the ellipse with the same area moments (centroid and second moments of the
enclosed region), which gives per level:

- ``axis_ratio`` (minor / major), ``major_axis_angle_deg`` and ``angle_from_covariance_deg``:
  the shape and orientation of the contour, to compare across levels and with the
  covariance ellipse (orientations only where the ellipse is elongated, axis ratio < 0.9);
- ``radial_rms_deviation``: RMS of (rho - 1) over the contour's vertices, where rho is the
  vertex's radius in units of the moment ellipse; 0 for an exact ellipse, about 0.1 for a
  square;
- ``size_ratio``: the contour's equivalent Mahalanobis radius divided by ``s``; 1 where the
  density falls off like the Gaussian, above 1 for heavier tails.

The smoothing and the histogram bins widen the estimated density a little; the reference
Gaussian is widened the same way (its covariance plus the kernel and bin variances) so that
the comparison is fair.
"""

from __future__ import annotations

from dataclasses import dataclass

import contourpy
import numpy as np
from matplotlib.path import Path as PolygonPath
from scipy import ndimage

from aegen.latent.checks import InsufficientDataError
from aegen.latent.geometry import pair_ellipse

DEFAULT_LEVEL_SIGMAS = (1.0, 1.5, 2.0, 2.5)
MIN_POINTS = 200
# Orientation statistics are reported only for ellipses at least this elongated (minor/major).
ORIENTED_AXIS_RATIO = 0.9


@dataclass
class PairDensity:
    """Smoothed density of 2-D points on a grid.

    x_centres (nx,), y_centres (ny,): grid; density (ny, nx): points per unit area / N;
    mean (2,), cov (2, 2): moments of the points; reference_cov (2, 2): ``cov`` widened by
    the smoothing and binning; n_points: N.
    """

    x_centres: np.ndarray
    y_centres: np.ndarray
    density: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    reference_cov: np.ndarray
    n_points: int
    smoothing_bins: float

    def gaussian_level(self, sigma: float) -> float:
        """Density of the reference Gaussian on its ``sigma`` ellipse."""
        return float(np.exp(-0.5 * sigma**2) / (2 * np.pi * np.sqrt(np.linalg.det(self.reference_cov))))


def pair_density(xy: np.ndarray, bins: int = 64, extent_std: float = 4.5,
                 smoothing_bins: float | None = None) -> PairDensity:
    """Density estimate of ``xy`` (N, 2) on a ``bins`` x ``bins`` grid spanning mean +- ``extent_std`` std.

    ``smoothing_bins`` (kernel std in bins) defaults to 1 bin at N >= 100,000 and grows
    slowly for fewer points (up to 4 bins) so that sparse contours stay closed.
    """
    xy = np.asarray(xy, dtype=np.float64)
    n = xy.shape[0]
    if n < MIN_POINTS:
        raise InsufficientDataError(f"contour analysis needs at least {MIN_POINTS} points, got {n}")
    mean = xy.mean(axis=0)
    cov = np.cov(xy, rowvar=False)
    std = np.sqrt(np.diag(cov))
    if not np.all(std > 0):
        raise InsufficientDataError("contour analysis needs both coordinates to vary")
    if smoothing_bins is None:
        smoothing_bins = float(np.clip((100_000 / n) ** 0.25, 1.0, 4.0))
    edges = [np.linspace(m - extent_std * s, m + extent_std * s, bins + 1) for m, s in zip(mean, std)]
    counts, _, _ = np.histogram2d(xy[:, 0], xy[:, 1], bins=edges)
    widths = np.array([e[1] - e[0] for e in edges])
    density = ndimage.gaussian_filter(counts.T / (n * widths.prod()), smoothing_bins, mode="constant")
    widening = np.diag(widths**2 * (smoothing_bins**2 + 1.0 / 12.0))
    return PairDensity(
        x_centres=0.5 * (edges[0][1:] + edges[0][:-1]), y_centres=0.5 * (edges[1][1:] + edges[1][:-1]),
        density=density, mean=mean, cov=cov, reference_cov=cov + widening, n_points=n,
        smoothing_bins=smoothing_bins,
    )


def _area_moments(poly: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Area, centroid (2,) and central second-moment matrix (2, 2) of a closed polygon (k, 2)."""
    x, y = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x, -1), np.roll(y, -1)
    cross = x * y1 - x1 * y
    area = cross.sum() / 2
    if abs(area) < 1e-300:
        raise ValueError("degenerate contour")
    cx = ((x + x1) * cross).sum() / (6 * area)
    cy = ((y + y1) * cross).sum() / (6 * area)
    ixx = ((x * x + x * x1 + x1 * x1) * cross).sum() / (12 * area)
    iyy = ((y * y + y * y1 + y1 * y1) * cross).sum() / (12 * area)
    ixy = ((x * y1 + 2 * x * y + 2 * x1 * y1 + x1 * y) * cross).sum() / (24 * area)
    second = np.array([[ixx - cx * cx, ixy - cx * cy], [ixy - cx * cy, iyy - cy * cy]])
    return abs(area), np.array([cx, cy]), second


def contour_lines(density: PairDensity, level: float) -> list[np.ndarray]:
    """Closed contour lines (k, 2) of ``density`` at ``level`` that enclose the points' mean."""
    generator = contourpy.contour_generator(density.x_centres, density.y_centres, density.density,
                                            line_type=contourpy.LineType.Separate)
    closed = []
    for line in generator.lines(level):
        if len(line) >= 4 and np.allclose(line[0], line[-1]) and PolygonPath(line).contains_point(density.mean):
            closed.append(line)
    return closed


def _fold_angle(angle: float) -> float:
    """Fold an axis orientation difference into [-90, 90)."""
    return float((angle + 90.0) % 180.0 - 90.0)


def _describe_contour(line: np.ndarray, density: PairDensity, sigma: float, reference_angle: float) -> dict:
    area, centroid, second = _area_moments(line[:-1])
    # A filled ellipse with semi-axes a, b has second moments a^2/4, b^2/4 along its axes.
    shape = pair_ellipse(4 * second)
    offsets = line[:-1] - centroid
    rho = np.sqrt(np.einsum("ij,jk,ik->i", offsets, np.linalg.inv(4 * second), offsets))
    equivalent_radius = np.sqrt(area / (np.pi * np.sqrt(np.linalg.det(density.reference_cov))))
    return {
        "sigma": float(sigma),
        "closed": True,
        "axis_ratio": shape["axis_ratio"],
        "major_axis_angle_deg": shape["major_axis_angle_deg"],
        "angle_from_covariance_deg": _fold_angle(shape["major_axis_angle_deg"] - reference_angle),
        "radial_rms_deviation": float(np.sqrt(np.mean((rho - 1) ** 2))),
        "size_ratio": float(equivalent_radius / sigma),
    }


def _angle_spread(angles: list[float]) -> float:
    """Largest difference between axis orientations, in degrees (axes are 180-degree periodic)."""
    spread = 0.0
    for a in angles:
        for b in angles:
            diff = abs(a - b) % 180
            spread = max(spread, min(diff, 180 - diff))
    return float(spread)


def contour_ellipticity(density: PairDensity, level_sigmas=DEFAULT_LEVEL_SIGMAS) -> dict:
    """Ellipse description of the density's contours at the reference Gaussian's sigma levels.

    Returns ``levels`` (one dict per level, see the module docstring), ``reference`` (the
    covariance ellipse's axis ratio and angle) and, over the closed levels, the spread of
    the axis ratio and orientation and the largest radial deviation.
    """
    reference = pair_ellipse(density.reference_cov)
    levels = []
    for sigma in level_sigmas:
        lines = contour_lines(density, density.gaussian_level(sigma))
        if not lines:
            levels.append({"sigma": float(sigma), "closed": False})
            continue
        largest = max(lines, key=lambda line: _area_moments(line[:-1])[0])
        levels.append(_describe_contour(largest, density, sigma, reference["major_axis_angle_deg"]))
    closed = [lv for lv in levels if lv["closed"]]
    result = {
        "n_points": density.n_points,
        "smoothing_bins": density.smoothing_bins,
        "levels": levels,
        "reference": {"axis_ratio": reference["axis_ratio"], "major_axis_angle_deg": reference["major_axis_angle_deg"]},
        "n_closed_levels": len(closed),
    }
    if closed:
        ratios = [lv["axis_ratio"] for lv in closed]
        result.update({
            "axis_ratio_mean": float(np.mean(ratios)),
            "axis_ratio_range": float(np.max(ratios) - np.min(ratios)),
            "max_radial_rms_deviation": float(max(lv["radial_rms_deviation"] for lv in closed)),
        })
        # A near-circular contour has no defined orientation: its angle is noise.
        if reference["axis_ratio"] is not None and reference["axis_ratio"] < ORIENTED_AXIS_RATIO:
            result["angle_spread_deg"] = _angle_spread([lv["major_axis_angle_deg"] for lv in closed])
            result["max_abs_angle_from_covariance_deg"] = float(max(abs(lv["angle_from_covariance_deg"])
                                                                    for lv in closed))
        else:
            result["angle_spread_deg"] = None
            result["angle_note"] = (f"covariance axis ratio above {ORIENTED_AXIS_RATIO}: contours are nearly "
                                    "circular and their orientation is not defined")
    return result


def sigma_ellipse_occupancy(xy: np.ndarray, sigmas) -> list[dict]:
    """Fraction of the points ``xy`` (N, 2) inside each sigma ellipse of their own covariance.

    ``expected`` is the fraction for a 2-D normal distribution, 1 - exp(-sigma^2 / 2).
    """
    xy = np.asarray(xy, dtype=np.float64)
    if xy.shape[0] < 3:
        raise InsufficientDataError(f"ellipse occupancy needs at least 3 points, got {xy.shape[0]}")
    centred = xy - xy.mean(axis=0)
    cov = np.cov(xy, rowvar=False)
    if np.linalg.det(cov) <= 0:
        raise InsufficientDataError("ellipse occupancy needs a non-degenerate 2x2 covariance")
    r_sq = np.einsum("ij,jk,ik->i", centred, np.linalg.inv(cov), centred)
    return [{"sigma": float(s), "fraction_inside": float(np.mean(r_sq <= s * s)),
             "expected": float(1 - np.exp(-0.5 * s * s))} for s in sigmas]
