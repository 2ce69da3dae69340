"""Normality tests: Shapiro-Wilk per component, Mardia and Henze-Zirkler jointly.

Mardia (1970, 1974): with y_i the points standardised by their mean and covariance
(divisor n), skewness b1 = mean over all pairs of (y_i . y_j)^3, kurtosis b2 = mean of
|y_i|^4. The skewness statistic n k b1 / 6 is chi-square with p(p+1)(p+2)/6 degrees of
freedom, k = (p+1)(n+1)(n+3) / (n((n+1)(p+1) - 6)) being Mardia's small-sample
correction (applied at every n: it tends to 1, but with p = 256 the statistic has 2.8
million degrees of freedom, where even a bias of order 1/n matters). The kurtosis is
standardised with its exact mean p(p+2)(n-1)/(n+1) and variance
8p(p+2)(n-3)(n-p-1)(n-p+1) / ((n+1)^2 (n+3)(n+5)) under normality.

Henze-Zirkler (1990), as in the R package MVN and pingouin: smoothing
beta = ((2p+1)/4)^(1/(p+4)) n^(1/(p+4)) / sqrt(2), statistic
HZ = 1/n sum_ij exp(-beta^2/2 D_ij) - 2 (1+beta^2)^(-p/2) sum_i exp(-beta^2/(2(1+beta^2)) D_i)
+ n (1+2 beta^2)^(-p/2), with squared Mahalanobis distances D_ij between points and D_i
from the mean, and a lognormal p-value. In high dimensions every term but the diagonal's
1 is below 1e-30, so HZ - 1 and the lognormal's parameters are computed as small
differences from 1 (log1p), where evaluating them naively would round to exactly 1.

Both joint tests are O(n^2 p) and run on subsamples; pairwise products are formed in
row blocks, never as an n x n matrix.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from aegen.latent.checks import InsufficientDataError
from aegen.latent.pca import LatentPCA
from aegen.latent.sigma import mahalanobis_radius, sigma_to_mass

BLOCK_ROWS = 1024
# Henze-Zirkler's lognormal p-value is calibrated only in low dimension, and the dimension where it
# breaks grows with n. Measured with benchmarks/hz_calibration.py, 200 draws of n standard normal
# points per (n, d), share of p < 0.05 and the p-values' quartiles (uniform: 0.25, 0.5, 0.75):
#   n = 5,000 (analyze's test_points): 0.05, 0.04, 0.075, 0.04, 0.06, 0.045 at d = 5, 10, 15, 20,
#     24, 32 (quartiles near uniform); 0.04 at d = 48 with quartiles narrowing to [0.35, 0.71];
#   n = 1,000: 0.07, 0.06, 0.055 at d = 10, 20, 32; 0.045 at d = 40 (quartiles [0.36, 0.68]),
#     0.02 at d = 48 and 0.015 at d = 64 (quartiles [0.45, 0.55]: clustered at 0.5);
#   n = 300: 0.06, 0.035 at d = 10, 20; 0.03 at d = 32 (quartiles [0.33, 0.61]).
# d <= 20 is calibrated at every n measured from 300 to 5,000, hence the cut-off.
HZ_MAX_DIM = 20
HZ_UNCALIBRATED = ("not reported: Henze-Zirkler's p-value is not calibrated at d = {d} (on normal data its "
                   "p-values narrow towards 0.5 from d = 32-48, and cluster there at d = 64 for n = 1,000); see "
                   "henze_zirkler_leading_pca")


def standardize(X: np.ndarray) -> np.ndarray:
    """Points ``X`` (n, p) in whitened coordinates (n, r): centred, covariance (divisor n) = identity.

    r is the rank of the covariance (directions without spread are dropped). Raises
    InsufficientDataError unless n > r + 1, which the tests need.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"expected an (n, p) array, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        bad = int(np.count_nonzero(~np.isfinite(X).all(axis=1)))
        raise ValueError(f"points contain NaN or Inf in {bad} of {X.shape[0]} rows")
    n, p = X.shape
    if n < p + 2:
        raise InsufficientDataError(f"a joint normality test in {p} dimensions needs at least {p + 2} points, got {n}")
    mean = X.mean(axis=0)
    centred = X - mean
    # The maximum-likelihood covariance (divisor n), as Mardia and Henze-Zirkler define them;
    # the statistics are rotation invariant, so the PCA frame's orientation does not matter.
    pca = LatentPCA().fit_covariance(centred.T @ centred / n, mean, n_samples=n)
    kept = np.arange(pca.rank_)
    return pca.transform(X, components=kept) / np.sqrt(pca.explained_variance_[kept])


def _pairwise_sums(Y: np.ndarray, beta2: float | None) -> tuple[float, float]:
    """Sums over pairs of whitened points ``Y`` (n, p), formed in row blocks (no n x n matrix).

    Returns (sum over all i, j of (y_i . y_j)^3, sum over i != j of exp(-beta2/2 |y_i - y_j|^2));
    the second is 0 when ``beta2`` is None.
    """
    n = Y.shape[0]
    sq_norm = np.einsum("ij,ij->i", Y, Y)
    cubes = 0.0
    kernel = 0.0
    for start in range(0, n, BLOCK_ROWS):
        gram = Y[start:start + BLOCK_ROWS] @ Y.T
        work = gram * gram
        work *= gram
        cubes += float(work.sum())
        if beta2 is None:
            continue
        # -beta2/2 |y_i - y_j|^2 = beta2 (y_i . y_j) - beta2/2 |y_i|^2 - beta2/2 |y_j|^2, formed in place.
        gram *= beta2
        gram -= 0.5 * beta2 * sq_norm[start:start + BLOCK_ROWS, None]
        gram -= 0.5 * beta2 * sq_norm[None, :]
        np.minimum(gram, 0.0, out=gram)
        np.exp(gram, out=gram)
        rows = np.arange(gram.shape[0])
        gram[rows, start + rows] = 0.0  # the diagonal's exact 1s are added analytically
        kernel += float(gram.sum())
    return cubes, kernel


def _mardia_skewness_result(cubes: float, n: int, p: int) -> dict:
    b1 = cubes / n**2
    k = (p + 1) * (n + 1) * (n + 3) / (n * ((n + 1) * (p + 1) - 6))
    statistic = n * k * b1 / 6
    df = p * (p + 1) * (p + 2) / 6
    return {"b1": b1, "statistic": statistic, "df": df, "p_value": float(stats.chi2.sf(statistic, df)),
            "n": n, "dim": p}


def mardia_skewness(X: np.ndarray) -> dict:
    """Mardia's multivariate skewness test on ``X`` (n, p): b1, chi-square statistic, df, p-value."""
    Y = standardize(X)
    cubes, _ = _pairwise_sums(Y, None)
    return _mardia_skewness_result(cubes, *Y.shape)


def mardia_kurtosis_from_sq_radii(r_sq: np.ndarray, dim: int) -> dict:
    """Mardia's kurtosis test from squared Mahalanobis radii (n,) taken with the divisor-n covariance."""
    r_sq = np.asarray(r_sq, dtype=np.float64)
    n, p = len(r_sq), dim
    if n < p + 2:
        raise InsufficientDataError(f"Mardia's kurtosis in {p} dimensions needs at least {p + 2} points, got {n}")
    b2 = float(np.mean(r_sq**2))
    expected = p * (p + 2) * (n - 1) / (n + 1)
    variance = 8 * p * (p + 2) * (n - 3) * (n - p - 1) * (n - p + 1) / ((n + 1) ** 2 * (n + 3) * (n + 5))
    z = (b2 - expected) / np.sqrt(variance)
    return {"b2": b2, "expected": expected, "z": float(z), "p_value": float(2 * stats.norm.sf(abs(z))),
            "n": n, "dim": p}


def truncated_normal_kurtosis(dim: int, radius: float, n: int) -> dict:
    """Mardia's b2 expected for n normal points kept within Mahalanobis ``radius`` in ``dim`` dims.

    Cutting a normal cloud at a radius lowers its kurtosis, so a core must be compared with
    this reference, not with the untruncated p(p+2). With X = r^2 ~ chi2(p) cut at R^2, the
    truncated moments are E[X^k] = p(p+2)...(p+2k-2) F_{p+2k}(R^2) / F_p(R^2); b2 of the
    re-standardised core tends to p^2 E[X^2] / E[X]^2, times (n-1)/(n+1), the finite-sample
    factor of the untruncated case (exact there); its standard deviation follows by the delta
    method (which gives Mardia's 8p(p+2)/n without truncation).
    """
    p = dim
    cut = radius**2
    base = stats.chi2.cdf(cut, p)
    if not base > 0:
        raise InsufficientDataError(f"a radius of {radius} holds no mass in {p} dimensions")
    moments = []
    rising = 1.0
    for k in range(1, 5):
        rising *= p + 2 * (k - 1)
        moments.append(rising * stats.chi2.cdf(cut, p + 2 * k) / base)
    m1, m2, m3, m4 = moments
    expected = p**2 * m2 / m1**2 * (n - 1) / (n + 1)
    grad = np.array([-2 * p**2 * m2 / m1**3, p**2 / m1**2])
    cov = np.array([[m2 - m1**2, m3 - m1 * m2], [m3 - m1 * m2, m4 - m2**2]])
    return {"expected": float(expected), "std": float(np.sqrt(grad @ cov @ grad / n))}


def mardia_kurtosis(X: np.ndarray) -> dict:
    """Mardia's multivariate kurtosis test on ``X`` (n, p): b2, its expectation, z, p-value."""
    Y = standardize(X)
    return mardia_kurtosis_from_sq_radii(np.einsum("ij,ij->i", Y, Y), Y.shape[1])


def mardia_test(X: np.ndarray) -> dict:
    """Both of Mardia's tests on ``X`` (n, p): {"skewness": ..., "kurtosis": ...}."""
    return {"skewness": mardia_skewness(X), "kurtosis": mardia_kurtosis(X)}


def _hz_beta2(n: int, p: int) -> float:
    return (((2 * p + 1) / 4) ** (1 / (p + 4)) * n ** (1 / (p + 4)) / np.sqrt(2)) ** 2


def _henze_zirkler_result(kernel_offdiag: float, sq_norm: np.ndarray, n: int, p: int) -> dict:
    beta2 = _hz_beta2(n, p)
    a = 1 + 2 * beta2
    t2 = 2 * (1 + beta2) ** (-p / 2) * float(np.sum(np.exp(-beta2 / (2 * (1 + beta2)) * sq_norm)))
    t3 = n * a ** (-p / 2)
    excess = kernel_offdiag / n - t2 + t3  # HZ - 1: the diagonal terms of the double sum give 1
    mu_minus_1 = -(a ** (-p / 2)) * (1 + p * beta2 / a + p * (p + 2) * beta2**2 / (2 * a**2))
    w = (1 + beta2) * (1 + 3 * beta2)
    si2 = (2 * (1 + 4 * beta2) ** (-p / 2)
           + 2 * a ** (-p) * (1 + 2 * p * beta2**2 / a**2 + 3 * p * (p + 2) * beta2**4 / (4 * a**4))
           - 4 * w ** (-p / 2) * (1 + 3 * p * beta2**2 / (2 * w) + p * (p + 2) * beta2**4 / (2 * w**2)))
    mu = 1 + mu_minus_1
    log_mean = 2 * np.log1p(mu_minus_1) - 0.5 * np.log1p(2 * mu_minus_1 + mu_minus_1**2 + si2)
    log_std = np.sqrt(np.log1p(si2 / mu**2))
    if not (excess > -1) or not log_std > 0:
        raise InsufficientDataError("Henze-Zirkler statistic is degenerate for these points")
    z = (np.log1p(excess) - log_mean) / log_std
    return {"statistic": 1 + excess, "statistic_minus_1": excess, "beta": float(np.sqrt(beta2)),
            "lognormal_mean_minus_1": mu_minus_1, "lognormal_variance": si2, "z": float(z),
            "p_value": float(stats.norm.sf(z)), "n": n, "dim": p}


def henze_zirkler_test(X: np.ndarray) -> dict:
    """Henze-Zirkler test on ``X`` (n, p): statistic, HZ - 1, beta, lognormal parameters, p-value."""
    Y = standardize(X)
    n, p = Y.shape
    _, kernel = _pairwise_sums(Y, _hz_beta2(n, p))
    return _henze_zirkler_result(kernel, np.einsum("ij,ij->i", Y, Y), n, p)


def joint_normality_tests(X: np.ndarray) -> dict:
    """Mardia's skewness and Henze-Zirkler on ``X`` (n, p) from one pass over the point pairs."""
    Y = standardize(X)
    n, p = Y.shape
    cubes, kernel = _pairwise_sums(Y, _hz_beta2(n, p))
    return {"mardia_skewness": _mardia_skewness_result(cubes, n, p),
            "henze_zirkler": _henze_zirkler_result(kernel, np.einsum("ij,ij->i", Y, Y), n, p)}


def shapiro_per_component(X: np.ndarray) -> dict:
    """Shapiro-Wilk W and p-value (lists of d) for each column of ``X`` (n, d), n in [3, 5000].

    Constant columns get NaN.
    """
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    if n < 3:
        raise InsufficientDataError(f"Shapiro-Wilk needs at least 3 points, got {n}")
    if n > 5000:
        raise ValueError(f"Shapiro-Wilk p-values are only accurate up to 5000 points, got {n}; subsample first")
    w = np.full(d, np.nan)
    p = np.full(d, np.nan)
    for k in range(d):
        if np.ptp(X[:, k]) > 0:
            result = stats.shapiro(X[:, k])
            w[k], p[k] = result.statistic, result.pvalue
    return {"n": n, "W": w.tolist(), "p_value": p.tolist()}


def fraction_beyond(r_sq: np.ndarray, sigmas, dof: int) -> list[dict]:
    """Fraction of squared Mahalanobis radii ``r_sq`` (n,) beyond each sigma level in ``dof`` dims.

    The level's radius follows :func:`aegen.latent.sigma.mahalanobis_radius` (mass
    convention); ``expected`` is the fraction beyond it for normal data.
    """
    r_sq = np.asarray(r_sq, dtype=np.float64)
    if len(r_sq) == 0:
        raise InsufficientDataError("no points to count")
    out = []
    for s in sigmas:
        radius = mahalanobis_radius(s, dof)
        out.append({"sigma": float(s), "mahalanobis_radius": radius,
                    "fraction_beyond": float(np.mean(r_sq > radius**2)),
                    "expected": float(1 - sigma_to_mass(s))})
    return out
