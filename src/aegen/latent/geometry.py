"""Where the cloud lies: centre against spread, radii, and 2-D covariance ellipses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats
from tqdm.auto import tqdm

from aegen.latent.checks import CHUNK_ROWS, iter_chunks
from aegen.latent.pca import LatentPCA

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def mahalanobis_sq_to_sigma(r_sq: float | np.ndarray, dof: int) -> float | np.ndarray:
    """Sigma level (mass convention of :mod:`aegen.latent.sigma`) of squared radius ``r_sq`` in ``dof`` dims."""
    mass = stats.chi2.cdf(r_sq, dof)
    return np.sqrt(2.0) * special.erfinv(np.clip(mass, 0.0, 1.0 - 1e-16))


@dataclass
class CloudGeometry:
    """Per-point radii of an (N, d) cloud, all (N,) float64.

    radius: Euclidean norm |z|; centre_distance: |z - centre|; mahalanobis_sq: squared
    Mahalanobis radius from the centre over the cloud's ``dof`` non-degenerate axes.
    origin_*: the same three quantities for the origin.
    """

    radius: np.ndarray
    centre_distance: np.ndarray
    mahalanobis_sq: np.ndarray
    dof: int
    centre_norm: float
    origin_mahalanobis_sq: float

    def summary(self, std: np.ndarray, mean: np.ndarray) -> dict:
        """Numbers on the cloud's position; ``std`` and ``mean`` (d,) are its per-component moments."""
        rms_spread = float(np.sqrt(np.mean(self.centre_distance**2)))
        r_origin = float(np.sqrt(self.origin_mahalanobis_sq))
        with np.errstate(divide="ignore", invalid="ignore"):
            offset_in_std = np.where(std > 0, np.abs(mean) / std, np.nan)
        return {
            "n_points": int(len(self.radius)),
            "centre_norm": self.centre_norm,
            "rms_spread": rms_spread,
            "centre_norm_over_rms_spread": self.centre_norm / rms_spread if rms_spread > 0 else None,
            "component_offset_in_std": {
                "description": "|mean_k| / std_k per component: how far the centre sits from 0 along each axis",
                "median": float(np.nanmedian(offset_in_std)),
                "max": float(np.nanmax(offset_in_std)),
                "fraction_above_1": float(np.nanmean(offset_in_std > 1)),
            },
            "origin": {
                "description": ("the origin seen from the cloud: Euclidean distance to the centre, Mahalanobis "
                                "radius, its sigma level in d dims, and the fraction of z-points closer to "
                                "the centre than the origin is (near 1: the origin lies at the border)"),
                "euclidean_distance_to_centre": self.centre_norm,
                "mahalanobis_radius": r_origin,
                "sigma_level": float(mahalanobis_sq_to_sigma(self.origin_mahalanobis_sq, self.dof)),
                "fraction_points_closer_euclidean": float(np.mean(self.centre_distance < self.centre_norm)),
                "fraction_points_closer_mahalanobis": float(np.mean(self.mahalanobis_sq < self.origin_mahalanobis_sq)),
            },
            "radius": _describe(self.radius),
            "centre_distance": _describe(self.centre_distance),
            "mahalanobis_radius": _describe(np.sqrt(self.mahalanobis_sq)),
            "mahalanobis_dof": self.dof,
        }


def _describe(values: np.ndarray) -> dict:
    qs = np.quantile(values, QUANTILES)
    return {"mean": float(values.mean()), "std": float(values.std()),
            "quantiles": {f"{q:g}": float(v) for q, v in zip(QUANTILES, qs)}}


def cloud_geometry(Z: np.ndarray, pca: LatentPCA, chunk_rows: int = CHUNK_ROWS,
                   progress: bool = False) -> CloudGeometry:
    """Radii of every point of ``Z`` (N, d) relative to the origin and to the centre ``pca.mean_``."""
    n = Z.shape[0]
    radius = np.empty(n)
    centre_distance = np.empty(n)
    mahalanobis_sq = np.empty(n)
    axes = pca.components_[: pca.rank_]
    inv_var = 1.0 / pca.explained_variance_[: pca.rank_]
    for start, stop in tqdm(list(iter_chunks(n, chunk_rows)), desc="radii", unit="chunk",
                            disable=not progress, leave=False):
        x = np.asarray(Z[start:stop], dtype=np.float64)
        radius[start:stop] = np.linalg.norm(x, axis=1)
        x -= pca.mean_
        centre_distance[start:stop] = np.linalg.norm(x, axis=1)
        scores = x @ axes.T
        mahalanobis_sq[start:stop] = (scores * scores) @ inv_var
    origin_scores = -pca.mean_ @ axes.T
    return CloudGeometry(
        radius=radius, centre_distance=centre_distance, mahalanobis_sq=mahalanobis_sq, dof=pca.rank_,
        centre_norm=float(np.linalg.norm(pca.mean_)),
        origin_mahalanobis_sq=float((origin_scores**2) @ inv_var),
    )


def pair_ellipse(cov2: np.ndarray) -> dict:
    """Principal axes of a 2x2 covariance ``cov2``.

    Returns ``std_major``, ``std_minor`` (standard deviations along the principal axes),
    ``axis_ratio`` (minor / major), ``major_axis_angle_deg`` (angle of the major axis from the
    first coordinate axis towards the second, in (-90, 90]) and ``misalignment_deg`` (angle
    between the major axis and the nearest coordinate axis, in [0, 45]).
    """
    cov2 = np.asarray(cov2, dtype=np.float64)
    if cov2.shape != (2, 2):
        raise ValueError(f"expected a 2x2 covariance, got shape {cov2.shape}")
    variances, vectors = np.linalg.eigh(cov2)
    major = vectors[:, 1]
    angle = float(np.degrees(np.arctan2(major[1], major[0])))
    # An axis has no direction: fold the angle into (-90, 90].
    if angle <= -90:
        angle += 180
    elif angle > 90:
        angle -= 180
    std_major, std_minor = np.sqrt(np.clip(variances[::-1], 0.0, None))
    folded = abs(angle) % 90
    return {
        "std_major": float(std_major),
        "std_minor": float(std_minor),
        "axis_ratio": float(std_minor / std_major) if std_major > 0 else None,
        "major_axis_angle_deg": angle,
        "misalignment_deg": float(min(folded, 90 - folded)),
    }


def ellipse_outline(centre: np.ndarray, cov2: np.ndarray, radius: float, n_vertices: int = 200) -> np.ndarray:
    """(n_vertices, 2) points of the ellipse {x : (x - c)^T cov2^-1 (x - c) = radius^2}.

    With ``radius`` = sigma this is the seed's ellipse: semi-axes sigma std along the
    principal axes of ``cov2``.
    """
    variances, vectors = np.linalg.eigh(np.asarray(cov2, dtype=np.float64))
    t = np.linspace(0.0, 2 * np.pi, n_vertices)
    unit = np.stack([np.cos(t), np.sin(t)], axis=1) * np.sqrt(np.clip(variances, 0.0, None))
    return np.asarray(centre) + radius * unit @ vectors.T
