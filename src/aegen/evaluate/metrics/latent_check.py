"""Latent check: do generated z-vectors land where the data's z-points are?

A normal fit (mean and covariance) of the training z-points defines ellipsoids; a z-vector's
Mahalanobis radius says how far out it lies. With aegen's sigma convention
(:mod:`aegen.latent.sigma`) the 2- and 3-sigma ellipsoids in d = 256 dimensions have radii of
about 17.2 and 18.0, not 2 and 3, because that is where 95.4% and 99.7% of the mass of a
256-dimensional normal distribution lie. Generated vectors are compared with held-out
z-points, whose radii show what the real distribution does out of sample.

The check is two-sided: in 256 dimensions the z-points lie on a shell (held-out radii
within a narrow band), so a vector near the centre is as foreign to the decoder as one far
out, yet "inside the 3-sigma ellipsoid". The headline columns are therefore the share of
radii inside the held-out radii's [p1, p99] band and the Kolmogorov-Smirnov distance between
generated and held-out radii.

A copying guard in latent space (:class:`LatentCopyGuard`) asks, for each vector, whether its
nearest z-point among the training and held-out z-points is a training one more often than
the sides' sizes predict (:class:`aegen.evaluate.metrics.memorisation.CopyingTest`): a learned prior
that memorises its training points shows a z-score far below 0. Distances are measured in a
whitened metric, and that metric is fitted on z-points in *neither* side: a covariance fitted on
the training points gives them smaller whitened norms than any point outside the fit (by about
d / N of the squared radius), so they are nearer to everything, and vectors that never saw them
score an excess of 0.1-0.15 towards them (measured on CelebA's z-points and on Gaussian
simulations). Fitted on independent points, the excess of fresh vectors is ~0. One asymmetry
remains that no metric removes: training z-points are the encoder's outputs on the images it
was trained on, held-out z-points on images it never saw.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy import stats
from sklearn.covariance import LedoitWolf

from aegen.evaluate.metrics.memorisation import CopyingTest
from aegen.evaluate.metrics.distances import single_threaded_lapack
from aegen.latent.checks import check_zpoints
from aegen.latent.sigma import mahalanobis_radius

# The band of held-out radii a generated radius should fall in, in percent.
BAND_PERCENTILES = (1.0, 99.0)
# Rows of whitened training points per nearest-neighbour block.
NN_BLOCK_ROWS = 4096

# Below this many training points per dimension the sample covariance is too noisy (or
# singular), and the Ledoit-Wolf shrinkage estimate is used instead.
MIN_POINTS_PER_DIM = 2


class LatentEllipsoid:
    """Normal fit of z-points and the Mahalanobis radii of new vectors against it.

    sigmas: the sigma levels whose ellipsoids are reported (default 2 and 3).
    Attributes after fit: mean_ (d,), covariance_ (d, d), covariance_estimator_ (str),
    radii_ {sigma: Mahalanobis radius of that ellipsoid}, n_fit_.
    """

    def __init__(self, sigmas: tuple[float, ...] = (2.0, 3.0)):
        if not sigmas or any(s <= 0 for s in sigmas):
            raise ValueError(f"sigmas must be positive, got {sigmas}")
        self.sigmas = tuple(float(s) for s in sigmas)

    def fit(self, Z: np.ndarray, Z_heldout: np.ndarray | None = None) -> "LatentEllipsoid":
        """Fit mean and covariance to training z-points Z (N, d).

        Z_heldout (M, d), optional: held-out z-points whose radii define the two-sided band
        and the KS distance's reference.
        """
        Z = np.asarray(check_zpoints(Z, min_points=2), dtype=np.float64)
        with single_threaded_lapack():
            self._fit(Z)
        if Z_heldout is not None:
            Z_heldout = np.asarray(Z_heldout, dtype=np.float64)
            self.heldout_radii_ = self.radius(Z_heldout)
            self.band_ = tuple(float(v) for v in np.percentile(self.heldout_radii_, BAND_PERCENTILES))
        return self

    def whiten(self, Z: np.ndarray) -> np.ndarray:
        """Whitened coordinates (n, d): L^-1 (z - mean), L the Cholesky factor of the covariance."""
        if not hasattr(self, "mean_"):
            raise RuntimeError("call fit() before whiten()")
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"expected vectors of shape (n, {self.mean_.shape[0]}), got {Z.shape}")
        return linalg.solve_triangular(self._cholesky, (Z - self.mean_).T, lower=True).T

    def _fit(self, Z: np.ndarray) -> "LatentEllipsoid":
        n, d = Z.shape
        self.mean_ = Z.mean(axis=0)
        if n >= MIN_POINTS_PER_DIM * d:
            self.covariance_ = np.cov(Z, rowvar=False).reshape(d, d)
            self.covariance_estimator_ = "sample covariance"
        else:
            self.covariance_ = LedoitWolf().fit(Z).covariance_
            self.covariance_estimator_ = f"Ledoit-Wolf shrinkage (only {n} points for {d} dimensions)"
        # A tiny ridge keeps the Cholesky factor defined for a rank-deficient covariance.
        ridge = 1e-10 * max(np.trace(self.covariance_) / d, 1e-300)
        self._cholesky = linalg.cholesky(self.covariance_ + ridge * np.eye(d), lower=True)
        self.radii_ = {s: mahalanobis_radius(s, d) for s in self.sigmas}
        self.n_fit_ = n
        return self

    def radius(self, Z: np.ndarray) -> np.ndarray:
        """Mahalanobis radii (n,) of vectors Z (n, d) under the fitted normal distribution."""
        white = self.whiten(Z)
        return np.sqrt(np.einsum("ij,ij->i", white, white))

    def summary(self, Z: np.ndarray, prefix: str = "latent") -> dict:
        """Two-sided checks of vectors Z (n, d) against the held-out z-points (when fitted with them).

        ``*_in_band``: share of radii inside the held-out [p1, p99] band; ``*_radius_ks``: the
        KS distance between generated and held-out radii; plus the median radius and the share
        inside each sigma ellipsoid (one-sided, kept for comparison).
        """
        radii = self.radius(Z)
        out = {f"{prefix}_inside_{_sigma_name(s)}sigma": float(np.mean(radii <= r)) for s, r in self.radii_.items()}
        out[f"{prefix}_radius_median"] = float(np.median(radii))
        if hasattr(self, "band_"):
            low, high = self.band_
            out[f"{prefix}_in_band"] = float(np.mean((radii >= low) & (radii <= high)))
            out[f"{prefix}_radius_ks"] = float(stats.ks_2samp(radii, self.heldout_radii_).statistic)
        return out

    def describe(self) -> dict:
        return {
            "fit_on": f"{self.n_fit_} training z-points", "covariance": self.covariance_estimator_,
            "ellipsoid_radii": {f"{_sigma_name(s)}sigma": r for s, r in self.radii_.items()},
            "convention": "aegen.latent.sigma: the ellipsoid holding the normal mass of +-sigma in 1-D",
            "band": (None if not hasattr(self, "band_") else
                     {"percentiles": list(BAND_PERCENTILES), "radii": list(self.band_),
                      "heldout_points": int(len(self.heldout_radii_))}),
        }


def _sigma_name(sigma: float) -> str:
    return f"{sigma:g}".replace(".", "p")


class NearestRows:
    """Nearest row of a fitted point set (N, d) for query vectors, by Euclidean distance.

    The vector counterpart of :class:`aegen.evaluate.metrics.memorisation.NearestTrainingImage`:
    ``distances(queries)`` returns the distance (m,) to the nearest row and its index (m,).
    """

    def fit(self, points: np.ndarray) -> "NearestRows":
        points = np.asarray(points, dtype=np.float32)
        if points.ndim != 2 or len(points) == 0:
            raise ValueError(f"points must have shape (N, d) with N >= 1, got {points.shape}")
        self.points_ = points
        self.sq_norms_ = np.einsum("ij,ij->i", points, points, dtype=np.float64)
        self.n_fit_ = len(points)
        return self

    def distances(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        queries = np.asarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.points_.shape[1]:
            raise ValueError(f"expected queries of shape (m, {self.points_.shape[1]}), got {queries.shape}")
        q_norms = np.einsum("ij,ij->i", queries, queries, dtype=np.float64)
        best = np.full(len(queries), np.inf, dtype=np.float64)
        best_index = np.zeros(len(queries), dtype=np.int64)
        for start in range(0, len(self.points_), NN_BLOCK_ROWS):
            block = self.points_[start:start + NN_BLOCK_ROWS]
            squared = q_norms[:, None] + self.sq_norms_[None, start:start + len(block)] - 2.0 * (queries @ block.T)
            index = squared.argmin(axis=1)
            value = squared[np.arange(len(queries)), index]
            better = value < best
            best[better], best_index[better] = value[better], index[better] + start
        return np.sqrt(np.clip(best, 0.0, None)), best_index


class LatentCopyGuard:
    """The latent copying guard: :class:`~aegen.evaluate.metrics.memorisation.CopyingTest` on whitened z.

    near_percentile: see :class:`~aegen.evaluate.metrics.memorisation.CopyingTest`.
    fit(Z_metric, Z_train, Z_heldout): Z_metric (K, d) fits the whitening (mean and covariance)
    and serves as the probe items, and must hold z-points in neither side: e.g. held-out
    z-points kept out of the held-out side. Z_train (N, d) and Z_heldout (M, d) are the two
    sides (with mirrored points appended when the generator was fitted on them).
    Attributes after fit: metric_ (a :class:`LatentEllipsoid`), band_ (the held-out side's
    [p1, p99] whitened radii), copy_test_.
    """

    def __init__(self, near_percentile: float = 1.0):
        self.near_percentile = near_percentile

    def fit(self, Z_metric: np.ndarray, Z_train: np.ndarray, Z_heldout: np.ndarray) -> "LatentCopyGuard":
        self.metric_ = LatentEllipsoid().fit(Z_metric)
        probe = self.metric_.whiten(Z_metric)
        heldout = self.metric_.whiten(Z_heldout)
        self.band_ = tuple(float(v) for v in np.percentile(np.linalg.norm(heldout, axis=1), BAND_PERCENTILES))
        self.copy_test_ = CopyingTest(self.near_percentile).fit(
            NearestRows().fit(self.metric_.whiten(Z_train)), NearestRows().fit(heldout), probe)
        return self

    def test(self, Z: np.ndarray) -> dict:
        """The guard for vectors Z (n, d): ``latent_``-prefixed keys of :meth:`CopyingTest.test`.

        It applies only to vectors on the shell of the z-points: vectors inside its hollow (or
        far outside) all share the few innermost (outermost) points as nearest neighbours, so
        their answers are one answer repeated. Below half of the vectors in the held-out side's
        radius band, ``latent_copy_applicable`` is False and nothing is flagged.
        """
        queries = self.metric_.whiten(Z)
        result = self.copy_test_.test(queries)
        radii = np.linalg.norm(queries, axis=1)
        applicable = bool(np.mean((radii >= self.band_[0]) & (radii <= self.band_[1])) >= 0.5)
        result["copy_flagged"] = result["copy_flagged"] and applicable
        return {**{f"latent_{k}": v for k, v in result.items()}, "latent_copy_applicable": applicable}

    def describe(self) -> dict:
        return {**self.copy_test_.describe(), "metric_fit_on": f"{self.metric_.n_fit_} z-points in neither side",
                "covariance": self.metric_.covariance_estimator_,
                "test": ("share of vectors whose nearest z-point (whitened) among the two sides is a training one, "
                         "as a z-score against the share the sides' sizes predict; and the same among the vectors "
                         "nearer than the probe points' 1st percentile")}
