"""Distribution metrics on feature vectors: FID, KID, precision/recall, density/coverage.

All functions take plain arrays of features, one row per image: ``real`` (n, D) and
``fake`` (m, D). They know nothing about images or Inception, so they are checked on
cases with known answers and reused for any feature extractor.

References: FID (Heusel et al. 2017, the pytorch-fid formula); KID (Binkowski et al. 2018,
unbiased MMD^2 with the cubic polynomial kernel, averaged over random subsets as in
clean-fid and torch-fidelity); precision and recall (Kynkaanniemi et al. 2019) and density
and coverage (Naeem et al. 2020), both with the k-nearest-neighbour balls of the reference
code of Naeem et al.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg
from sklearn.metrics import pairwise_distances
from threadpoolctl import threadpool_limits

# Imaginary parts this small are round-off of sqrtm on a nearly singular product; pytorch-fid
# discards them with the same tolerance, and so do we.
SQRTM_IMAG_ATOL = 1e-3


def _check_features(X: np.ndarray, name: str, min_rows: int = 2) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must have shape (n, D), got {X.shape}")
    if len(X) < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got {len(X)}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contain NaN or Inf")
    return X


def _check_pair(real: np.ndarray, fake: np.ndarray, min_rows: int = 2) -> tuple[np.ndarray, np.ndarray]:
    real = _check_features(real, "real features", min_rows)
    fake = _check_features(fake, "fake features", min_rows)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: real {real.shape[1]}, fake {fake.shape[1]}")
    return real, fake


def feature_statistics(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of features X (n, D), as FID uses them (ddof=1)."""
    X = _check_features(X, "features")
    return X.mean(axis=0), np.cov(X, rowvar=False)


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        # With fewer samples than feature dimensions the product is singular by construction;
        # the warning says so on every call, and the checks below judge the result instead.
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        return linalg.sqrtm(matrix)


def _trace_sqrt_product_sqrtm(sigma1: np.ndarray, sigma2: np.ndarray, eps: float) -> float:
    covmean = _sqrtm(sigma1 @ sigma2)
    if not np.all(np.isfinite(covmean)):
        # sqrtm can fail on a singular product; a small ridge on both covariances is the
        # pytorch-fid remedy.
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = _sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        largest = float(np.max(np.abs(np.diagonal(covmean).imag)))
        if largest > SQRTM_IMAG_ATOL:
            raise ValueError(f"sqrtm of the covariance product has an imaginary diagonal part of {largest:.3g}; "
                             "use method='eigh'")
        covmean = covmean.real
    return float(np.trace(covmean))


def _trace_sqrt_product_eigh(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    # tr sqrt(S1 S2) = tr sqrt(S1^1/2 S2 S1^1/2); the right-hand matrix is symmetric PSD, so
    # two symmetric eigendecompositions replace the general sqrtm: faster, and it cannot
    # produce imaginary parts.
    values, vectors = linalg.eigh(sigma1)
    root1 = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    middle = root1 @ sigma2 @ root1
    middle = (middle + middle.T) / 2.0
    return float(np.sqrt(np.clip(linalg.eigvalsh(middle), 0.0, None)).sum())


def single_threaded_lapack():
    """Context that runs BLAS/LAPACK on one thread.

    Eigendecompositions of these sizes gain little from a second thread but lose orders of
    magnitude when the cores are shared with other work (measured: a 768 x 768 eigh took
    0.33 s on one thread and 25 s on two threads of a busy 2-core machine).
    """
    return threadpool_limits(limits=1, user_api="blas")


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     method: str = "sqrtm", eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``|mu1 - mu2|^2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^1/2)``. mu: (D,), sigma: (D, D).
    method: ``"sqrtm"`` (scipy.linalg.sqrtm, the pytorch-fid computation) or ``"eigh"`` (the
    same trace through symmetric eigendecompositions; several times faster at D = 2048).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, dtype=np.float64)), np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64)), np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    d = mu1.shape[0]
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"shapes do not match: mu1 {mu1.shape}, mu2 {mu2.shape}, sigma1 {sigma1.shape}, sigma2 {sigma2.shape}")
    with single_threaded_lapack():
        if method == "sqrtm":
            tr_covmean = _trace_sqrt_product_sqrtm(sigma1, sigma2, eps)
        elif method == "eigh":
            tr_covmean = _trace_sqrt_product_eigh(sigma1, sigma2)
        else:
            raise ValueError(f"method must be 'sqrtm' or 'eigh', got {method!r}")
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)
    # Round-off can push the distance of (nearly) identical sets a hair below zero.
    return max(value, 0.0)


def _fid_by_svd(real: np.ndarray, fake: np.ndarray) -> float:
    # With centred features A (n, D) and B (m, D), S1 = A'A / (n-1) and S2 = B'B / (m-1). The
    # non-zero eigenvalues of S1 S2 are those of (A B')(A B')' / ((n-1)(m-1)), so
    # tr sqrt(S1 S2) is the sum of the singular values of A B' over sqrt((n-1)(m-1)): an
    # (n, m) problem instead of a (D, D) one, exact for any n, m.
    a = real - real.mean(axis=0)
    b = fake - fake.mean(axis=0)
    scale = np.sqrt((len(a) - 1) * (len(b) - 1))
    with single_threaded_lapack():
        singular_values = linalg.svdvals(a @ b.T)
    diff = real.mean(axis=0) - fake.mean(axis=0)
    value = diff @ diff + (a * a).sum() / (len(a) - 1) + (b * b).sum() / (len(b) - 1) - 2.0 * singular_values.sum() / scale
    return max(float(value), 0.0)


FID_METHODS = ("auto", "svd", "eigh", "sqrtm")


def fid_from_features(real: np.ndarray, fake: np.ndarray, method: str = "auto") -> float:
    """FID between feature sets real (n, D) and fake (m, D); biased upward at small n, m.

    method: how tr sqrt(S1 S2) is computed, all giving the same value to round-off:
    ``"sqrtm"`` (scipy.linalg.sqrtm as pytorch-fid), ``"eigh"`` (symmetric
    eigendecompositions of D x D matrices), ``"svd"`` (singular values of the (n, m) cross
    product of the centred features; far cheaper when n, m < D), ``"auto"`` (svd when
    min(n, m) <= D, else eigh).
    """
    real, fake = _check_pair(real, fake)
    if method not in FID_METHODS:
        raise ValueError(f"method must be one of {FID_METHODS}, got {method!r}")
    if method == "auto":
        method = "svd" if min(len(real), len(fake)) <= real.shape[1] else "eigh"
    if method == "svd":
        return _fid_by_svd(real, fake)
    return frechet_distance(*feature_statistics(real), *feature_statistics(fake), method=method)


def _cubic_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def mmd2_unbiased(k_xx: np.ndarray, k_yy: np.ndarray, k_xy: np.ndarray) -> float:
    """Unbiased MMD^2 from kernel matrices k_xx (m, m), k_yy (n, n) and k_xy (m, n)."""
    m, n = k_xy.shape
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * k_xy.sum() / (m * n))


# Up to this many rows per set, KID computes the full kernel matrices once and lets every
# subset index into them (2500^2 float64 is 50 MB a matrix).
KID_PRECOMPUTE_ROWS = 2500


def default_kid_subset_size(n_real: int, n_fake: int) -> int:
    """Subset size for KID: 1000 as in the KID paper, but at most half the smaller set.

    Subsets as large as the set itself would all be the same set (sampled without
    replacement), and their spread would read 0; half the set keeps the subsets different
    so that the reported std is an honest spread. The mean is unbiased at any subset size.
    """
    return int(max(2, min(1000, min(n_real, n_fake) // 2)))


def kid(real: np.ndarray, fake: np.ndarray, n_subsets: int = 100, subset_size: int | None = None,
        random_state: int | np.random.Generator | None = 0) -> tuple[float, float]:
    """Kernel Inception Distance: unbiased MMD^2 with k(x, y) = (x.y / D + 1)^3.

    real (n, D), fake (m, D). Averages the estimate over ``n_subsets`` random subsets of
    ``subset_size`` rows of each set (default :func:`default_kid_subset_size`). Returns
    (mean, std over subsets). Unbiased, so it can be slightly negative for equal distributions.
    """
    real, fake = _check_pair(real, fake)
    if n_subsets < 1:
        raise ValueError(f"n_subsets must be >= 1, got {n_subsets}")
    size = default_kid_subset_size(len(real), len(fake)) if subset_size is None else int(subset_size)
    if not 2 <= size <= min(len(real), len(fake)):
        raise ValueError(f"subset_size must be in [2, {min(len(real), len(fake))}], got {size}")
    rng = np.random.default_rng(random_state)
    estimates = np.empty(n_subsets)
    precompute = max(len(real), len(fake)) <= KID_PRECOMPUTE_ROWS
    with single_threaded_lapack():
        if precompute:
            k_ff, k_rr, k_fr = _cubic_kernel(fake, fake), _cubic_kernel(real, real), _cubic_kernel(fake, real)
        for i in range(n_subsets):
            f = rng.choice(len(fake), size, replace=False)
            r = rng.choice(len(real), size, replace=False)
            if precompute:
                estimates[i] = mmd2_unbiased(k_ff[np.ix_(f, f)], k_rr[np.ix_(r, r)], k_fr[np.ix_(f, r)])
            else:
                x, y = fake[f], real[r]
                estimates[i] = mmd2_unbiased(_cubic_kernel(x, x), _cubic_kernel(y, y), _cubic_kernel(x, y))
    return float(estimates.mean()), float(estimates.std())


def _kth_neighbour_distance(within: np.ndarray, k: int) -> np.ndarray:
    # Column 0 of each sorted row is the point itself (distance 0), so the k-th neighbour is
    # the (k+1)-th smallest value, as in the reference code.
    return np.partition(within, k, axis=1)[:, k]


def _prdc_from_distances(real_real: np.ndarray, fake_fake: np.ndarray, real_fake: np.ndarray, k: int) -> dict[str, float]:
    n_min = min(len(real_real), len(fake_fake))
    if k < 1 or k >= n_min:
        raise ValueError(f"k must be in [1, {n_min - 1}] for these sets, got {k}")
    real_radii = _kth_neighbour_distance(real_real, k)
    fake_radii = _kth_neighbour_distance(fake_fake, k)
    inside_real_balls = real_fake < real_radii[:, None]
    return {
        "precision": float(inside_real_balls.any(axis=0).mean()),
        "recall": float((real_fake < fake_radii[None, :]).any(axis=1).mean()),
        "density": float(inside_real_balls.sum(axis=0).mean() / k),
        "coverage": float((real_fake.min(axis=1) < real_radii).mean()),
    }


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of fake (m, D) against real (n, D).

    Each point's ball has the radius of its k-th nearest neighbour within its own set.
    precision: share of fake points inside some real ball; recall: share of real points
    inside some fake ball; density: mean number of real balls holding a fake point, over k
    (about 1 for equal distributions, above 1 where fakes crowd dense regions); coverage:
    share of real balls that hold at least one fake point. Needs more than k rows in each set.
    """
    real, fake = _check_pair(real, fake)
    return _prdc_from_distances(pairwise_distances(real), pairwise_distances(fake),
                                pairwise_distances(real, fake), k)


def fidelity_diversity(real: np.ndarray, fake: np.ndarray, pr_k: int = 3, dc_k: int = 5) -> dict[str, float]:
    """Precision and recall at ``pr_k`` (Kynkaanniemi et al. 2019: k = 3) with density and
    coverage at ``dc_k`` (Naeem et al. 2020: k = 5), from one set of pairwise distances.

    real (n, D), fake (m, D). Returns a dict with keys precision, recall, density, coverage.
    """
    real, fake = _check_pair(real, fake)
    distances = (pairwise_distances(real), pairwise_distances(fake), pairwise_distances(real, fake))
    at_pr_k = _prdc_from_distances(*distances, pr_k)
    at_dc_k = _prdc_from_distances(*distances, dc_k)
    return {"precision": at_pr_k["precision"], "recall": at_pr_k["recall"],
            "density": at_dc_k["density"], "coverage": at_dc_k["coverage"]}


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict[str, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of fake (m, D) against real (n, D); k = 3."""
    scores = prdc(real, fake, k)
    return {"precision": scores["precision"], "recall": scores["recall"]}


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020) of fake (m, D) against real (n, D); k = 5."""
    scores = prdc(real, fake, k)
    return {"density": scores["density"], "coverage": scores["coverage"]}
