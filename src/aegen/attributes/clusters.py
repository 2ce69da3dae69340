"""Do an attribute's classes form clusters? Silhouette scores and 2-D views.

The silhouette of a point is (b - a) / max(a, b), with a its mean distance to its own class
and b its mean distance to the other class: near 1 for tight, separate clusters, near 0 for
classes that overlap, negative where a point lies closer to the other class. Rule of thumb
(Kaufman and Rousseeuw): below 0.25 there is no substantial cluster structure.

Silhouette needs all pairwise distances (O(n^2)), so it is computed on a seeded subsample
with the same number of points from each class: with the natural class sizes the average
would speak mostly for the majority class of a rare attribute.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_samples

from aegen.attributes.labels import to_binary


def balanced_subsample(y: np.ndarray, max_points: int, random_state: int | np.random.Generator = 0) -> np.ndarray:
    """Indices of an equal number of points from each class, at most ``max_points`` in all.

    y: (N,) labels in {-1, 1}. Returns sorted indices (m,) with m <= max_points.
    """
    if max_points < 4:
        raise ValueError(f"max_points must be >= 4, got {max_points}")
    rng = np.random.default_rng(random_state)
    y01 = to_binary(y)
    pos, neg = np.flatnonzero(y01 == 1), np.flatnonzero(y01 == 0)
    per_class = min(max_points // 2, pos.size, neg.size)
    chosen = np.concatenate([rng.choice(pos, per_class, replace=False), rng.choice(neg, per_class, replace=False)])
    return np.sort(chosen)


def silhouette(X: np.ndarray, y: np.ndarray, max_points: int = 4000,
               random_state: int | np.random.Generator = 0) -> dict:
    """Silhouette of the two classes of y (N,) in the space of X (N, k), on a balanced subsample.

    Returns {"mean", "positive", "negative", "n_per_class"}; values are NaN when either class
    has fewer than 2 points.
    """
    X = np.asarray(X, dtype=np.float64)
    y01 = to_binary(y)
    if X.shape[0] != y01.size:
        raise ValueError(f"{X.shape[0]} points but {y01.size} labels")
    if min(y01.sum(), y01.size - y01.sum()) < 2:
        return {"mean": float("nan"), "positive": float("nan"), "negative": float("nan"), "n_per_class": 0}
    idx = balanced_subsample(y01, max_points, random_state)
    values = silhouette_samples(X[idx], y01[idx])
    labels = y01[idx]
    return {
        "mean": float(values.mean()),
        "positive": float(values[labels == 1].mean()),
        "negative": float(values[labels == 0].mean()),
        "n_per_class": int(idx.size // 2),
    }


class LatentViews:
    """The two 2-D views of an attribute: top PCA plane, and attribute direction vs top PC.

    Fit on the z-points of the whole cloud (no labels) plus the attribute's unit direction.
    ``pca_plane(Z)`` -> (N, 2): coordinates on the first two principal axes.
    ``direction_plane(Z)`` -> (N, 2): coordinate along the attribute direction, and along the
    first principal axis of the cloud after the direction is projected out (so the two axes
    are orthogonal and the second shows the largest remaining spread).
    """

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, Z: np.ndarray, direction: np.ndarray) -> "LatentViews":
        """Z: (N, d) z-points; direction: (d,) unit vector."""
        Z = np.asarray(Z, dtype=np.float64)
        direction = np.asarray(direction, dtype=np.float64)
        self.direction_ = direction / np.linalg.norm(direction)
        self.pca_ = PCA(n_components=2, random_state=self.random_state).fit(Z)
        self.mean_ = Z.mean(axis=0)
        centred = Z - self.mean_
        residual = centred - np.outer(centred @ self.direction_, self.direction_)
        orth = PCA(n_components=1, random_state=self.random_state).fit(residual).components_[0]
        orth -= (orth @ self.direction_) * self.direction_  # guard against round-off
        self.orthogonal_axis_ = orth / np.linalg.norm(orth)
        self.explained_variance_ratio_ = self.pca_.explained_variance_ratio_
        return self

    def pca_plane(self, Z: np.ndarray) -> np.ndarray:
        return self.pca_.transform(np.asarray(Z, dtype=np.float64))

    def direction_plane(self, Z: np.ndarray) -> np.ndarray:
        centred = np.asarray(Z, dtype=np.float64) - self.mean_
        return np.stack([centred @ self.direction_, centred @ self.orthogonal_axis_], axis=1)
