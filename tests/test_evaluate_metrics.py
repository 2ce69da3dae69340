"""Distribution metrics on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from aegen.evaluate import (
    density_coverage,
    fid_from_features,
    fidelity_diversity,
    frechet_distance,
    kid,
    prdc,
    precision_recall,
)


def random_spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


@pytest.mark.parametrize("method", ["sqrtm", "eigh", "svd", "auto"])
def test_fid_of_identical_sets_is_zero(method):
    X = np.random.default_rng(0).normal(size=(300, 20))
    assert fid_from_features(X, X, method=method) == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize("method", ["sqrtm", "eigh"])
def test_frechet_distance_closed_form_for_commuting_covariances(method):
    # Diagonal covariances commute: tr sqrt(S1 S2) = sum sqrt(a_i b_i).
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    a, b = rng.uniform(0.2, 3.0, 6), rng.uniform(0.2, 3.0, 6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b), method=method) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_of_general_covariances_agrees_between_methods():
    rng = np.random.default_rng(2)
    s1, s2 = random_spd(rng, 30), random_spd(rng, 30)
    mu1, mu2 = rng.normal(size=30), rng.normal(size=30)
    # Independent check: the Fréchet distance is symmetric in its two distributions.
    via_sqrtm = frechet_distance(mu1, s1, mu2, s2, method="sqrtm")
    assert frechet_distance(mu1, s1, mu2, s2, method="eigh") == pytest.approx(via_sqrtm, rel=1e-9)
    assert frechet_distance(mu2, s2, mu1, s1, method="sqrtm") == pytest.approx(via_sqrtm, rel=1e-9)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert via_sqrtm == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("n, m, d", [(12, 9, 40), (60, 80, 20)])
def test_fid_methods_agree_with_fewer_and_with_more_samples_than_dimensions(n, m, d):
    rng = np.random.default_rng(11)
    real, fake = rng.normal(size=(n, d)), rng.normal(0.2, 1.3, size=(m, d))
    reference = fid_from_features(real, fake, method="sqrtm")
    for method in ("eigh", "svd", "auto"):
        assert fid_from_features(real, fake, method=method) == pytest.approx(reference, rel=1e-7)


def test_fid_of_sampled_gaussians_approaches_the_closed_form():
    rng = np.random.default_rng(3)
    d = 4
    mu1, mu2 = np.zeros(d), np.array([1.0, -0.5, 0.0, 2.0])
    s1, s2 = random_spd(rng, d), random_spd(rng, d)
    X = rng.multivariate_normal(mu1, s1, size=40_000)
    Y = rng.multivariate_normal(mu2, s2, size=40_000)
    exact = frechet_distance(mu1, s1, mu2, s2)
    assert fid_from_features(X, Y) == pytest.approx(exact, rel=0.03)


def test_fid_rejects_bad_input():
    with pytest.raises(ValueError, match="dimensions differ"):
        fid_from_features(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="NaN"):
        fid_from_features(np.full((5, 3), np.nan), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="method"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2), method="svd")
    with pytest.raises(ValueError, match="method"):
        fid_from_features(np.zeros((5, 3)), np.zeros((5, 3)), method="exact")


def mmd2_by_loops(x, y):
    """The unbiased MMD^2 estimator with the cubic kernel, written out term by term."""
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1.0) ** 3  # noqa: E731
    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_matches_the_estimator_written_out():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(7, 3)), rng.normal(0.5, 1.0, size=(7, 3))
    # Subsets of the whole set are permutations, which leave the estimator unchanged.
    mean, std = kid(x, y, n_subsets=3, subset_size=7)
    assert mean == pytest.approx(mmd2_by_loops(y, x), rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_kid_is_near_zero_for_one_distribution_and_clearly_positive_for_shifted():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(400, 32)), rng.normal(size=(400, 32))
    same_mean, same_std = kid(a, b, random_state=0)
    shifted_mean, shifted_std = kid(a, b + 0.5, random_state=0)
    assert abs(same_mean) < 3 * same_std + 1e-3
    assert shifted_mean > 10 * max(same_std, shifted_std)
    assert shifted_mean > 0.05


def test_kid_gives_the_same_with_and_without_precomputed_kernels(monkeypatch):
    rng = np.random.default_rng(12)
    a, b = rng.normal(size=(80, 6)), rng.normal(0.3, 1.0, size=(70, 6))
    precomputed = kid(a, b, n_subsets=20, random_state=3)
    monkeypatch.setattr("aegen.evaluate.metrics.distances.KID_PRECOMPUTE_ROWS", 0)
    assert kid(a, b, n_subsets=20, random_state=3) == pytest.approx(precomputed, rel=1e-10)


def test_kid_subsets_are_seeded():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(60, 5)), rng.normal(size=(60, 5))
    assert kid(a, b, random_state=1) == kid(a, b, random_state=1)
    assert kid(a, b, random_state=1) != kid(a, b, random_state=2)
    with pytest.raises(ValueError, match="subset_size"):
        kid(a, b, subset_size=61)


def test_prdc_on_a_hand_computed_example():
    real = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
    fake = np.array([[0.5], [10.0]])
    # Real radii (1st neighbour) are all 1, fake radii 9.5. Precision: only 0.5 lies in a real
    # ball. Recall: every real point is within 9.5 of 0.5. Density: 0.5 lies in the balls of 0
    # and 1, 10 in none: (2 + 0) / 2 / k. Coverage: only the balls of 0 and 1 hold a fake.
    scores = prdc(real, fake, k=1)
    assert scores == pytest.approx({"precision": 0.5, "recall": 1.0, "density": 1.0, "coverage": 0.4})


def prdc_by_loops(real, fake, k):
    """Naeem et al.'s definitions, one point at a time."""
    def radius(points, i):
        distances = sorted(np.linalg.norm(points - points[i], axis=1))
        return distances[k]  # distances[0] is the point itself

    r_real = [radius(real, i) for i in range(len(real))]
    r_fake = [radius(fake, j) for j in range(len(fake))]
    dist = np.linalg.norm(real[:, None] - fake[None], axis=2)
    precision = np.mean([any(dist[i, j] < r_real[i] for i in range(len(real))) for j in range(len(fake))])
    recall = np.mean([any(dist[i, j] < r_fake[j] for j in range(len(fake))) for i in range(len(real))])
    density = np.mean([sum(dist[i, j] < r_real[i] for i in range(len(real))) for j in range(len(fake))]) / k
    coverage = np.mean([min(dist[i]) < r_real[i] for i in range(len(real))])
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


def test_prdc_matches_the_definitions_point_by_point():
    rng = np.random.default_rng(7)
    real, fake = rng.normal(size=(40, 3)), rng.normal(0.4, 1.2, size=(30, 3))
    for k in (1, 3, 5):
        assert prdc(real, fake, k) == pytest.approx(prdc_by_loops(real, fake, k))


def test_prdc_of_identical_sets_and_of_far_apart_sets():
    X = np.random.default_rng(8).normal(size=(200, 16))
    same = prdc(X, X.copy(), k=5)
    # Each point lies in its own ball and in the balls of the points that have it among their
    # k - 1 nearest neighbours: n + n(k - 1) memberships over n k gives density 1 (up to a
    # few exact ties at the k-th neighbour that round-off breaks either way).
    assert same == pytest.approx({"precision": 1.0, "recall": 1.0, "density": 1.0, "coverage": 1.0}, abs=0.005)
    far = prdc(X, X + 100.0, k=5)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_against_noise_has_low_precision():
    rng = np.random.default_rng(9)
    # A structured set (a thin curve in 8-D) against isotropic noise of the same spread.
    t = rng.uniform(0, 2 * np.pi, 300)
    real = np.stack([np.cos(t), np.sin(t)] + [0.01 * rng.normal(size=300) for _ in range(6)], axis=1)
    noise = rng.normal(size=(300, 8)) * real.std(axis=0).mean()
    scores = fidelity_diversity(real, noise)
    assert scores["precision"] < 0.1
    assert scores["density"] < 0.1


def test_fidelity_diversity_uses_each_k():
    rng = np.random.default_rng(10)
    real, fake = rng.normal(size=(50, 4)), rng.normal(0.3, 1.0, size=(45, 4))
    both = fidelity_diversity(real, fake, pr_k=3, dc_k=5)
    assert both["precision"] == precision_recall(real, fake, k=3)["precision"]
    assert both["recall"] == precision_recall(real, fake, k=3)["recall"]
    assert both == pytest.approx({**precision_recall(real, fake, 3), **density_coverage(real, fake, 5)})
    with pytest.raises(ValueError, match="k must be"):
        prdc(real[:5], fake, k=5)
