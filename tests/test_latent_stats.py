"""The statistics of aegen.latent on synthetic clouds with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from aegen.latent import (
    LatentPCA,
    check_zpoints,
    cloud_geometry,
    cloud_moments,
    component_histograms,
    correlation_matrix,
    fraction_beyond,
    henze_zirkler_test,
    joint_normality_tests,
    mardia_kurtosis,
    mardia_skewness,
    mardia_test,
    pair_ellipse,
    pca_fwhm_table,
    shapiro_per_component,
    top_correlated_pairs,
)
from aegen.latent.checks import InsufficientDataError
from aegen.latent.normality import truncated_normal_kurtosis


def rotation(d: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def correlated_cloud(n: int, stds, seed: int = 0, shift=None) -> tuple[np.ndarray, np.ndarray]:
    """n points of a normal cloud with principal stds ``stds`` along random axes; returns (Z, cov)."""
    stds = np.asarray(stds, dtype=float)
    axes = rotation(len(stds), seed + 100)
    Z = (np.random.default_rng(seed).standard_normal((n, len(stds))) * stds) @ axes.T
    if shift is not None:
        Z = Z + shift
    return Z.astype(np.float32), axes @ np.diag(stds**2) @ axes.T


# -- moments, input checks -------------------------------------------------------------------------

def test_chunked_moments_match_numpy():
    Z, _ = correlated_cloud(1000, [3.0, 2.0, 1.0, 0.5], shift=[100.0, -50.0, 7.0, 0.0])
    m = cloud_moments(Z, chunk_rows=77)
    Z64 = Z.astype(np.float64)
    assert np.allclose(m.mean, Z64.mean(axis=0), rtol=0, atol=1e-9)
    assert np.allclose(m.cov, np.cov(Z64, rowvar=False), rtol=1e-9, atol=1e-9)
    assert np.allclose(m.skewness, stats.skew(Z64), atol=1e-7)
    assert np.allclose(m.excess_kurtosis, stats.kurtosis(Z64), atol=1e-7)
    mask = np.arange(1000) % 3 == 0
    masked = cloud_moments(Z, mask=mask, chunk_rows=50)
    assert masked.n == mask.sum()
    assert np.allclose(masked.cov, np.cov(Z64[mask], rowvar=False), rtol=1e-9, atol=1e-9)


def test_nan_and_inf_rows_are_counted():
    Z = np.random.default_rng(0).standard_normal((500, 8)).astype(np.float32)
    Z[[3, 100, 499], 2] = np.nan
    Z[7, 0] = np.inf
    Z[3, 5] = -np.inf  # same row as a NaN: still one row
    for fn in (check_zpoints, cloud_moments):
        with pytest.raises(ValueError, match="NaN or Inf in 4 of 500 rows"):
            fn(Z)


def test_check_zpoints_rejects_bad_shapes():
    with pytest.raises(ValueError, match="2-D"):
        check_zpoints(np.zeros(5))
    with pytest.raises(ValueError, match="empty"):
        check_zpoints(np.zeros((0, 4)))


def test_component_histograms_match_numpy():
    Z, _ = correlated_cloud(3000, [2.0, 1.0, 0.1], seed=3, shift=[1.0, -2.0, 0.5])
    m = cloud_moments(Z)
    hist = component_histograms(Z, m, n_bins=30, chunk_rows=500)
    for k in range(3):
        expected, _ = np.histogram(Z[:, k].astype(np.float64), bins=hist.edges[k])
        assert np.array_equal(hist.counts[k], expected)
    assert hist.counts.sum() + hist.outside.sum() == Z.size


# -- PCA, geometry, correlation --------------------------------------------------------------------

def test_pca_recovers_the_known_spectrum():
    stds = np.array([4.0, 2.0, 1.0, 0.5, 0.25, 0.1])
    Z, cov = correlated_cloud(40_000, stds, seed=1)
    pca = LatentPCA().fit(Z)
    expected_ratio = stds**2 / np.sum(stds**2)
    assert np.allclose(pca.explained_variance_ratio_, expected_ratio, rtol=0.05)
    assert pca.n_components_for(0.90) == int(np.searchsorted(np.cumsum(expected_ratio), 0.90) + 1)
    assert pca.n_components_for(1.0) == 6
    assert pca.rank_ == 6
    scores = pca.transform(Z)
    off_diagonal = np.cov(scores, rowvar=False) - np.diag(np.var(scores, axis=0, ddof=1))
    assert np.abs(off_diagonal).max() < 1e-8
    assert np.allclose(pca.inverse_transform(scores), Z, atol=1e-4)
    # Squared Mahalanobis radii (covariance with divisor n - 1) average to d (n - 1) / n.
    assert pca.mahalanobis_sq(Z).mean() == pytest.approx(6 * (len(Z) - 1) / len(Z), rel=1e-8)


def test_pca_rank_ignores_dead_components():
    Z = np.random.default_rng(0).standard_normal((500, 5))
    Z[:, 3] = 0.0
    pca = LatentPCA().fit(Z)
    assert pca.rank_ == 4
    assert np.all(np.isfinite(pca.mahalanobis_sq(Z)))


@pytest.mark.parametrize("angle, folded, misalignment", [(30.0, 30.0, 30.0), (120.0, -60.0, 30.0), (0.0, 0.0, 0.0),
                                                         (80.0, 80.0, 10.0)])
def test_pair_ellipse_angles(angle, folded, misalignment):
    t = np.radians(angle)
    axes = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    cov = axes @ np.diag([2.0**2, 1.0**2]) @ axes.T
    e = pair_ellipse(cov)
    assert e["major_axis_angle_deg"] == pytest.approx(folded, abs=1e-9)
    assert e["misalignment_deg"] == pytest.approx(misalignment, abs=1e-9)
    assert e["axis_ratio"] == pytest.approx(0.5)
    assert e["std_major"] == pytest.approx(2.0)


def test_pair_angles_in_original_and_pca_coordinates():
    stds = np.array([3.0, 1.5, 1.0, 0.3])
    Z, cov = correlated_cloud(30_000, stds, seed=2)
    known = pair_ellipse(cov[np.ix_([0, 2], [0, 2])])
    measured = pair_ellipse(np.cov(Z[:, [0, 2]].astype(np.float64), rowvar=False))
    assert measured["major_axis_angle_deg"] == pytest.approx(known["major_axis_angle_deg"], abs=2.0)
    scores = LatentPCA().fit(Z).transform(Z, components=[0, 2])
    in_pca = pair_ellipse(np.cov(scores, rowvar=False))
    assert in_pca["misalignment_deg"] < 1e-6
    assert in_pca["axis_ratio"] == pytest.approx(stds[2] / stds[0], rel=0.03)


def test_centre_distance_and_origin_position():
    shift = np.array([3.0, 0.0, -4.0, 0.0])  # |shift| = 5
    stds = np.array([2.0, 1.0, 1.0, 0.5])
    Z, cov = correlated_cloud(20_000, stds, seed=4, shift=shift)
    pca = LatentPCA().fit(Z)
    geom = cloud_geometry(Z, pca, chunk_rows=3000)
    assert geom.centre_norm == pytest.approx(5.0, abs=0.05)
    expected_r2 = shift @ np.linalg.solve(cov, shift)
    assert geom.origin_mahalanobis_sq == pytest.approx(expected_r2, rel=0.03)
    summary = geom.summary(np.sqrt(np.diag(cov)), pca.mean_)
    rms = np.sqrt(np.trace(cov))
    assert summary["rms_spread"] == pytest.approx(rms, rel=0.02)
    assert summary["centre_norm_over_rms_spread"] == pytest.approx(5.0 / rms, rel=0.03)
    closer = np.mean(stats.chi2.cdf(expected_r2, 4) > 0)  # sanity: the fraction is a probability
    assert 0 <= summary["origin"]["fraction_points_closer_mahalanobis"] <= closer
    assert summary["origin"]["fraction_points_closer_mahalanobis"] == pytest.approx(
        stats.chi2.cdf(expected_r2, 4), abs=0.02)


def test_fraction_beyond_sigma_matches_normal_mass():
    Z, _ = correlated_cloud(40_000, np.linspace(2.0, 0.2, 16), seed=5)
    pca = LatentPCA().fit(Z)
    rows = {row["sigma"]: row for row in fraction_beyond(pca.mahalanobis_sq(Z), [2.0, 3.0], 16)}
    assert rows[2.0]["expected"] == pytest.approx(0.0455, abs=1e-4)
    assert rows[2.0]["fraction_beyond"] == pytest.approx(0.0455, abs=0.005)
    assert rows[3.0]["fraction_beyond"] == pytest.approx(0.0027, abs=0.0012)


def test_top_correlated_pairs_finds_the_planted_pair():
    rng = np.random.default_rng(6)
    Z = rng.standard_normal((5000, 10))
    Z[:, 7] = -0.8 * Z[:, 2] + 0.6 * Z[:, 7]
    Z[:, 4] = 0.0
    corr = correlation_matrix(np.cov(Z, rowvar=False))
    assert np.isnan(corr[4]).all()
    top = top_correlated_pairs(corr, k=3)
    assert (top[0]["i"], top[0]["j"]) == (2, 7)
    assert top[0]["r"] == pytest.approx(-0.8, abs=0.02)
    assert abs(top[1]["r"]) < 0.1


# -- FWHM --------------------------------------------------------------------------------------------

def test_fwhm_table_shows_the_resolution_breakdown():
    stds = np.array([3.0, 2.0, 1.0, 0.5, 0.2, 0.05, 0.01])
    Z, _ = correlated_cloud(60_000, stds, seed=7)
    pca = LatentPCA().fit(Z)
    table = pca_fwhm_table(Z, pca, bin_width=0.1, block=3)
    assert np.allclose(table["gaussian_fwhm"], 2.3548 * np.sqrt(pca.explained_variance_), rtol=1e-4)
    error = np.abs(np.asarray(table["relative_error"]))
    assert np.all(error[:4] < 0.1)  # 5 or more bins per std: measured well
    assert np.all(error[5:] > 0.5)  # narrower than a bin: the measurement breaks down
    assert table["breakdown_from_component"] in (4, 5)
    assert table["std_in_bins"][0] == pytest.approx(30, rel=0.05)


# -- normality tests ---------------------------------------------------------------------------------

def test_mardia_reduces_to_squared_skewness_and_kurtosis_in_one_dimension():
    x = np.random.default_rng(8).exponential(size=(300, 1))
    result = mardia_test(x)
    assert result["skewness"]["b1"] == pytest.approx(stats.skew(x[:, 0]) ** 2, rel=1e-10)
    assert result["kurtosis"]["b2"] == pytest.approx(stats.kurtosis(x[:, 0], fisher=False), rel=1e-10)
    assert result["skewness"]["df"] == 1


def hz_dense(X: np.ndarray) -> float:
    """Henze-Zirkler statistic straight from its definition, with an n x n distance matrix."""
    n, p = X.shape
    d = X - X.mean(axis=0)
    s_inv = np.linalg.inv(np.cov(X, rowvar=False, bias=True))
    d_i = np.einsum("ij,jk,ik->i", d, s_inv, d)
    diff = d[:, None, :] - d[None, :, :]
    d_ij = np.einsum("abj,jk,abk->ab", diff, s_inv, diff)
    b2 = (((2 * p + 1) / 4) ** (1 / (p + 4)) * n ** (1 / (p + 4)) / np.sqrt(2)) ** 2
    return (np.exp(-b2 / 2 * d_ij).sum() / n
            - 2 * (1 + b2) ** (-p / 2) * np.exp(-b2 / (2 * (1 + b2)) * d_i).sum()
            + n * (1 + 2 * b2) ** (-p / 2))


@pytest.mark.parametrize("p", [2, 4])
def test_henze_zirkler_matches_its_definition(p):
    X = np.random.default_rng(p).gamma(2.0, size=(150, p))
    result = henze_zirkler_test(X)
    assert result["statistic"] == pytest.approx(hz_dense(X), rel=1e-10)
    assert 0 <= result["p_value"] <= 1


def test_normality_tests_accept_normal_data():
    X, _ = correlated_cloud(500, [2.0, 1.0, 0.5], seed=9)
    assert mardia_skewness(X)["p_value"] > 0.01
    assert mardia_kurtosis(X)["p_value"] > 0.01
    assert henze_zirkler_test(X)["p_value"] > 0.01


def test_normality_tests_reject_exponential_data():
    X = np.random.default_rng(10).exponential(size=(500, 3))
    assert mardia_skewness(X)["p_value"] < 1e-3
    assert mardia_kurtosis(X)["p_value"] < 1e-3
    assert henze_zirkler_test(X)["p_value"] < 1e-3


def test_normality_tests_reject_a_mixture():
    rng = np.random.default_rng(11)
    X = rng.standard_normal((600, 3))
    X[:, 0] += np.where(rng.random(600) < 0.5, -2.5, 2.5)
    assert henze_zirkler_test(X)["p_value"] < 1e-3
    assert mardia_kurtosis(X)["p_value"] < 1e-3


def test_henze_zirkler_in_high_dimensions_does_not_round_to_one():
    X = np.random.default_rng(12).standard_normal((300, 64))
    joint = joint_normality_tests(X)
    hz = joint["henze_zirkler"]
    assert hz["statistic_minus_1"] != 0.0 and np.isfinite(hz["z"])
    assert 0.01 < hz["p_value"] < 1
    assert hz == henze_zirkler_test(X)
    assert joint["mardia_skewness"] == mardia_skewness(X)


def test_joint_tests_need_more_points_than_dimensions():
    with pytest.raises(InsufficientDataError, match="at least 12 points"):
        mardia_skewness(np.random.default_rng(0).standard_normal((11, 10)))


def test_truncated_normal_kurtosis_reference():
    p, n = 8, 50_000
    untruncated = truncated_normal_kurtosis(p, 1e3, n)
    assert untruncated["expected"] == pytest.approx(p * (p + 2) * (n - 1) / (n + 1))
    assert untruncated["std"] == pytest.approx(np.sqrt(8 * p * (p + 2) / n), rel=1e-6)
    radius = 4.0
    X = np.random.default_rng(13).standard_normal((3 * n, p))
    core = X[np.einsum("ij,ij->i", X, X) <= radius**2][:n]
    ref = truncated_normal_kurtosis(p, radius, len(core))
    assert ref["expected"] < p * (p + 2) - 3  # the cut at 4.0 (96% of the mass) lowers b2 by about 3.6
    assert abs(mardia_kurtosis(core)["b2"] - ref["expected"]) < 4 * ref["std"]


def test_shapiro_per_component():
    rng = np.random.default_rng(14)
    X = np.column_stack([rng.standard_normal(800), rng.exponential(size=800), np.full(800, 2.0)])
    result = shapiro_per_component(X)
    assert result["n"] == 800
    assert result["p_value"][0] > 0.01 and result["p_value"][1] < 1e-3
    assert np.isnan(result["W"][2])
    with pytest.raises(ValueError, match="5000"):
        shapiro_per_component(np.zeros((5001, 1)))
