"""How far apart the two classes of one attribute lie in latent space.

All statistics take z-points ``Z`` (N, d) and labels ``y`` (N,) in {-1, 1} (or {0, 1}) and
compare the class of images that carry the attribute (positive, 1) with the rest (negative).
Definitions, with mu1/mu0 the class centres, S1/S0 the class covariances, S the covariance of
the whole cloud and Sw the pooled within-class covariance:

- ``centre_distance``: ||mu1 - mu0|| in latent units.
- ``centre_distance_in_spread``: ||mu1 - mu0|| / sqrt(trace(S) / d), the distance in units of
  the cloud's RMS standard deviation per component.
- ``mahalanobis_distance``: sqrt((mu1 - mu0)^T Sw^-1 (mu1 - mu0)), the separation of the best
  linear discriminant in units of its within-class standard deviation.
- ``mahalanobis_distance_debiased``: the same with the finite-sample bias of the plug-in
  estimate removed (Lachenbruch's unbiased estimate of D^2 under normality, clipped at 0).
- ``gaussian_balanced_accuracy``: Phi(D / 2) with D the debiased distance, the balanced
  accuracy a linear classifier reaches if both classes were normal with a shared covariance.
- ``cohen_d_mean_direction``: ||mu1 - mu0|| / sqrt(u^T Sw u) with u the unit vector along
  mu1 - mu0: the separation seen along the mean-difference direction alone.
- ``covariance_difference``: ||S1 - S0||_F / ||S||_F; ``covariance_difference_random_split``
  is the same for a random split of the cloud into parts of the two classes' sizes, i.e. the
  value that sampling noise alone produces.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from aegen.attributes.labels import to_binary


@dataclass
class ClassSeparation:
    """Statistics of one attribute's two classes in latent space (see the module docstring)."""

    n_positive: int
    n_negative: int
    positive_rate: float
    centre_distance: float
    rms_spread: float
    centre_distance_in_spread: float
    mahalanobis_distance: float
    mahalanobis_distance_debiased: float
    gaussian_balanced_accuracy: float
    cohen_d_mean_direction: float
    covariance_difference: float
    covariance_difference_random_split: float

    def to_dict(self) -> dict:
        return asdict(self)


def _check(Z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2:
        raise ValueError(f"Z must have shape (N, d), got {Z.shape}")
    y = to_binary(np.asarray(y).ravel())
    if y.shape[0] != Z.shape[0]:
        raise ValueError(f"{Z.shape[0]} z-points but {y.shape[0]} labels")
    counts = np.bincount(y, minlength=2)
    if counts.min() < 2:
        raise ValueError(f"each class needs at least 2 z-points, got {counts[1]} positive and {counts[0]} negative")
    return Z, y


def _solve_psd(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """matrix^-1 vector for a covariance that may be singular (tiny ridge, then least squares)."""
    ridge = 1e-9 * max(np.trace(matrix) / matrix.shape[0], 1e-12)
    try:
        return np.linalg.solve(matrix + ridge * np.eye(matrix.shape[0]), vector)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(matrix, vector, rcond=None)[0]


def pooled_within_class_covariance(Z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pooled within-class covariance of z-points Z (N, d) with labels y: (d, d)."""
    Z, y = _check(Z, y)
    centred = Z.copy()
    for value in (0, 1):
        centred[y == value] -= Z[y == value].mean(axis=0)
    return centred.T @ centred / (Z.shape[0] - 2)


def mahalanobis_between_centres(Z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Plug-in and debiased Mahalanobis distance between the class centres.

    Returns (D, D_debiased). The debiased value uses the unbiased estimate of D^2 for two
    normal classes with a shared covariance: (N - d - 3) / (N - 2) * D^2 - d (1/n1 + 1/n0),
    clipped at 0; it is NaN when N <= d + 3 (too few points for the estimate).
    """
    Z, y = _check(Z, y)
    n, d = Z.shape
    n1, n0 = int(y.sum()), int(n - y.sum())
    delta = Z[y == 1].mean(axis=0) - Z[y == 0].mean(axis=0)
    sw = pooled_within_class_covariance(Z, y)
    d2 = float(delta @ _solve_psd(sw, delta))
    if n <= d + 3:
        return float(np.sqrt(max(d2, 0.0))), float("nan")
    d2_unbiased = (n - d - 3) / (n - 2) * d2 - d * (1.0 / n1 + 1.0 / n0)
    return float(np.sqrt(max(d2, 0.0))), float(np.sqrt(max(d2_unbiased, 0.0)))


def relative_covariance_difference(Z: np.ndarray, y: np.ndarray) -> float:
    """||S1 - S0||_F / ||S||_F for the class covariances S1, S0 and the cloud's covariance S."""
    Z, y = _check(Z, y)
    s1 = np.cov(Z[y == 1], rowvar=False)
    s0 = np.cov(Z[y == 0], rowvar=False)
    s_all = np.cov(Z, rowvar=False)
    return float(np.linalg.norm(s1 - s0) / np.linalg.norm(s_all))


def class_separation(Z: np.ndarray, y: np.ndarray, random_state: int | np.random.Generator = 0) -> ClassSeparation:
    """All separation statistics of one attribute.

    Z: (N, d) z-points; y: (N,) labels in {-1, 1}; random_state seeds the random split that
    calibrates the covariance difference.
    """
    Z, y = _check(Z, y)
    rng = np.random.default_rng(random_state)
    n, d = Z.shape
    n1 = int(y.sum())
    delta = Z[y == 1].mean(axis=0) - Z[y == 0].mean(axis=0)
    distance = float(np.linalg.norm(delta))
    rms_spread = float(np.sqrt(np.trace(np.cov(Z, rowvar=False)) / d))
    d_plugin, d_debiased = mahalanobis_between_centres(Z, y)
    sw = pooled_within_class_covariance(Z, y)
    unit = delta / distance if distance > 0 else delta
    within_std_along = float(np.sqrt(max(unit @ sw @ unit, 1e-300)))
    shuffled = np.zeros(n, dtype=np.int64)
    shuffled[rng.permutation(n)[:n1]] = 1
    gaussian_accuracy = float(stats.norm.cdf(d_debiased / 2.0)) if np.isfinite(d_debiased) else float("nan")
    return ClassSeparation(
        n_positive=n1,
        n_negative=n - n1,
        positive_rate=n1 / n,
        centre_distance=distance,
        rms_spread=rms_spread,
        centre_distance_in_spread=distance / rms_spread if rms_spread > 0 else float("nan"),
        mahalanobis_distance=d_plugin,
        mahalanobis_distance_debiased=d_debiased,
        gaussian_balanced_accuracy=gaussian_accuracy,
        cohen_d_mean_direction=distance / within_std_along,
        covariance_difference=relative_covariance_difference(Z, y),
        covariance_difference_random_split=relative_covariance_difference(Z, shuffled),
    )
