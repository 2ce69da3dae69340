"""The samplers' common API: fit, sample, log_prob, save/load, the registry and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from aegen import AegenError
from aegen.latent.sigma import mahalanobis_radius
from aegen.samplers import (
    SAMPLERS, DiagGaussianSampler, EllipsePCASampler, GaussianSampler, GMMSampler, TruncatedGaussianSampler,
    UniformSampler, load_sampler, make_sampler,
)

D = 12
# Small, quick-to-fit parameters for every method.
QUICK = {"gmm": {"n_components": 2, "max_iter": 50}, "ellipse-pca": {"n_components": 6}, "ellipsoid": {"n_components": 6},
         "flow": {"transforms": 1, "hidden_features": 16, "hidden_layers": 1, "epochs": 1, "progress": False},
         "flow-matching": {"width": 16, "blocks": 1, "epochs": 1, "steps": 2, "progress": False}}


@pytest.fixture(scope="module")
def cloud() -> np.ndarray:
    """Correlated, off-centre Gaussian z-points (3000, D), like an autoencoder's cloud."""
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(D, D)) * np.linspace(1.0, 0.2, D)
    return (rng.normal(size=(3000, D)) @ mixing.T * 0.5 + 1.0).astype(np.float32)


@pytest.fixture(scope="module")
def fitted(cloud):
    return {name: make_sampler(name, **QUICK.get(name, {})).fit(cloud) for name in SAMPLERS}


def test_registry_names_and_unknown_method():
    assert set(SAMPLERS) == {"uniform", "diag-gaussian", "ellipse-pca", "ellipse-original", "ellipsoid", "gaussian",
                             "truncated-gaussian", "gmm", "flow", "flow-matching"}
    with pytest.raises(ValueError, match="unknown sampling method 'vae'.*ellipse-pca"):
        make_sampler("vae")
    with pytest.raises(ValueError, match="unknown parameter.*fact"):
        make_sampler("gaussian", fact=0.5)


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_sample_shape_dtype_and_seed(fitted, name):
    sampler = fitted[name]
    V = sampler.sample(40, random_state=3)
    assert V.shape == (40, D) and V.dtype == np.float32 and np.all(np.isfinite(V))
    np.testing.assert_array_equal(V, sampler.sample(40, random_state=3))
    assert not np.array_equal(V, sampler.sample(40, random_state=4))
    with pytest.raises(ValueError, match="n must be"):
        sampler.sample(0)


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_save_load_round_trip(fitted, name, tmp_path):
    sampler = fitted[name]
    sampler.save(tmp_path / name)
    loaded = load_sampler(tmp_path / name)
    assert type(loaded) is type(sampler) and loaded.get_params() == sampler.get_params()
    np.testing.assert_array_equal(loaded.sample(25, random_state=1), sampler.sample(25, random_state=1))
    meta = json.loads((tmp_path / name / "params.json").read_text())
    assert meta["method"] == name and meta["fit_info"]["n_points"] == 3000


def test_load_refuses_wrong_shapes_class_and_garbage(fitted, tmp_path):
    folder = fitted["gaussian"].save(tmp_path / "g")
    arrays = dict(np.load(folder / "state.npz"))
    np.savez(folder / "state.npz", mean_=arrays["mean_"][:-1], covariance_=arrays["covariance_"])
    with pytest.raises(AegenError, match="mean_ has shape"):
        load_sampler(folder)
    np.savez(folder / "state.npz", **arrays, extra=np.zeros(3))
    with pytest.raises(AegenError, match="do not match"):
        load_sampler(folder)
    np.savez(folder / "state.npz", **arrays)
    assert isinstance(load_sampler(folder), GaussianSampler)
    with pytest.raises(AegenError, match="holds a GaussianSampler"):
        UniformSampler.load(folder)
    (folder / "params.json").write_text("{not json")
    with pytest.raises(AegenError, match="corrupt JSON"):
        load_sampler(folder)
    with pytest.raises(AegenError, match="missing file"):
        load_sampler(tmp_path / "nothing")


@pytest.mark.parametrize("make, message", [
    (lambda: EllipsePCASampler(fact=0.0), "fact must be in"),
    (lambda: EllipsePCASampler(fact=1.2), "fact must be in"),
    (lambda: EllipsePCASampler(n_components=0), "n_components must be"),
    (lambda: EllipsePCASampler(width="fwtm"), "width must be"),
    (lambda: EllipsePCASampler(bin_width=-1.0), "bin_width must be"),
    (lambda: UniformSampler(b=float("nan")), "b must be a finite number"),
    (lambda: UniformSampler(bounds="range"), "bounds must be"),
    (lambda: TruncatedGaussianSampler(sigma=0), "sigma must be in"),
    (lambda: GMMSampler(n_components=0), "n_components must be"),
    (lambda: GMMSampler(n_components="many"), "n_components must be an integer"),
    (lambda: GMMSampler(n_components_grid=[]), "n_components_grid must not be empty"),
    (lambda: GaussianSampler(base_noise="halton"), "base_noise must be"),
    (lambda: DiagGaussianSampler(reg_covar=-1), "reg_covar must be"),
])
def test_invalid_parameters_are_refused_at_fit(make, message, cloud):
    sampler = make()  # stored untouched: scikit-learn's convention
    with pytest.raises(ValueError, match=message):
        sampler.fit(cloud)


def test_invalid_data(cloud):
    with pytest.raises(ValueError, match="n_components must be in 1..12"):
        EllipsePCASampler(n_components=13).fit(cloud)
    bad = cloud.copy()
    bad[5, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        GaussianSampler().fit(bad)
    bad[5, 3] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        EllipsePCASampler(n_components=4).fit(bad)
    with pytest.raises(ValueError, match="too few points"):
        GaussianSampler().fit(cloud[:1])
    with pytest.raises(ValueError, match="too few points"):
        EllipsePCASampler(n_components=4).fit(cloud[:8])
    with pytest.raises(ValueError, match="shape"):
        GaussianSampler().fit(cloud[0])
    with pytest.raises(ValueError, match="not fitted"):
        GaussianSampler().sample(3)
    with pytest.raises(ValueError, match="columns"):
        GaussianSampler().fit(cloud).log_prob(cloud[:3, :5])


def test_gaussian_log_prob_matches_scipy_and_moments(fitted, cloud):
    sampler = fitted["gaussian"]
    reference = stats.multivariate_normal(sampler.mean_, sampler.covariance_)
    np.testing.assert_allclose(sampler.log_prob(cloud[:50]), reference.logpdf(cloud[:50]), rtol=1e-9)
    V = sampler.sample(20000, random_state=0).astype(float)
    np.testing.assert_allclose(V.mean(axis=0), cloud.mean(axis=0), atol=0.05)
    np.testing.assert_allclose(np.cov(V, rowvar=False), np.cov(cloud, rowvar=False), atol=0.06)


def test_diag_gaussian_ignores_correlations(fitted, cloud):
    sampler = fitted["diag-gaussian"]
    reference = stats.norm(sampler.mean_, np.sqrt(sampler.var_)).logpdf(cloud[:20]).sum(axis=1)
    np.testing.assert_allclose(sampler.log_prob(cloud[:20]), reference, rtol=1e-9)
    V = sampler.sample(20000, random_state=0)
    off_diagonal = np.corrcoef(V, rowvar=False)[np.triu_indices(D, 1)]
    assert np.abs(off_diagonal).max() < 0.05 < np.abs(np.corrcoef(cloud, rowvar=False)[np.triu_indices(D, 1)]).max()


def test_uniform_box_fixed_and_observed(fitted, cloud):
    sampler = fitted["uniform"]
    V = sampler.sample(5000, random_state=0)
    assert V.min() >= -1.5 and V.max() <= 1.5 and V.min() < -1.49 and V.max() > 1.49
    log_p = sampler.log_prob(np.array([[0.0] * D, [2.0] + [0.0] * (D - 1)]))
    assert log_p[0] == pytest.approx(-D * np.log(3.0)) and log_p[1] == -np.inf
    observed = UniformSampler(bounds="observed").fit(cloud)
    np.testing.assert_allclose(observed.low_, cloud.min(axis=0), rtol=1e-6)
    V = observed.sample(2000, random_state=0)
    assert np.all(V >= cloud.min(axis=0) - 1e-6) and np.all(V <= cloud.max(axis=0) + 1e-6)
    with pytest.raises(ValueError, match="single value"):
        UniformSampler(bounds="observed").fit(np.ones((5, 3)))


def test_truncated_gaussian_is_exact_where_rejection_fails():
    """A tiny core: plain rejection from the fitted normal would accept less than 1 draw in 1000."""
    rng = np.random.default_rng(1)
    d = 40
    Z = rng.normal(size=(4000, d)) @ np.diag(np.linspace(2.0, 0.5, d)) + 3.0
    sampler = TruncatedGaussianSampler(sigma=0.001).fit(Z)
    radius = mahalanobis_radius(0.001, d)
    assert sampler.radius_ == pytest.approx(radius)
    assert stats.chi2.cdf(radius**2, d) < 1e-3  # the acceptance rate of plain rejection
    V = sampler.sample(4000, random_state=2)
    r = sampler.mahalanobis_radius(V)
    assert r.max() <= radius * (1 + 1e-5)
    # The radius follows the chi distribution truncated to [0, R].
    truncated_cdf = lambda x: stats.chi.cdf(np.minimum(x, radius), d) / stats.chi.cdf(radius, d)  # noqa: E731
    assert stats.kstest(r, truncated_cdf).pvalue > 1e-3
    # Directions are uniform: the whitened mean is near zero.
    whitened = np.linalg.solve(sampler.cholesky_, (V - sampler.mean_).T).T
    assert np.abs(whitened.mean(axis=0)).max() < 0.1


def test_truncated_gaussian_log_prob_renormalised(fitted, cloud):
    sampler, full = fitted["truncated-gaussian"], fitted["gaussian"]
    log_p = sampler.log_prob(cloud[:200])
    inside = sampler.mahalanobis_radius(cloud[:200]) <= sampler.radius_
    assert inside.any() and (~inside).any()
    np.testing.assert_allclose(log_p[inside], full.log_prob(cloud[:200])[inside] - np.log(stats.chi2.cdf(
        sampler.radius_**2, D)), rtol=1e-9)
    assert np.all(log_p[~inside] == -np.inf)


def test_gmm_auto_picks_k_by_bic_and_matches_sklearn(tmp_path):
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 1.0], [0.0, 7.0, -2.0]])
    Z = np.concatenate([c + rng.normal(size=(600, 3)) for c in centres])
    sampler = GMMSampler(n_components="auto", n_components_grid=[1, 2, 3, 5], random_state=0).fit(Z)
    bic = sampler.fit_info_["bic"]
    assert sampler.n_components_ == 3 == min(bic, key=bic.get) and set(bic) == {1, 2, 3, 5}
    V = sampler.sample(3000, random_state=0)
    nearest = np.argmin(((V[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_allclose(np.bincount(nearest, minlength=3) / 3000, [1 / 3] * 3, atol=0.04)
    from sklearn.mixture import GaussianMixture

    reference = GaussianMixture(3, covariance_type="full", random_state=0).fit(Z)
    np.testing.assert_allclose(sampler.log_prob(Z[:30]), reference.score_samples(Z[:30]), rtol=1e-3)
    loaded = load_sampler(sampler.save(tmp_path / "gmm"))
    np.testing.assert_allclose(loaded.log_prob(Z[:30]), sampler.log_prob(Z[:30]))


def test_ellipse_pca_has_no_density(fitted, cloud):
    with pytest.raises(NotImplementedError, match="no closed-form density"):
        fitted["ellipse-pca"].log_prob(cloud[:3])


def test_fit_reads_memory_mapped_zpoints(cloud, tmp_path):
    path = tmp_path / "z.npy"
    np.save(path, cloud)
    mapped = np.load(path, mmap_mode="r")
    a = GaussianSampler().fit(mapped)
    b = GaussianSampler().fit(cloud)
    np.testing.assert_allclose(a.covariance_, b.covariance_, rtol=1e-10)
    c = EllipsePCASampler(n_components=5, max_fit_points=500).fit(mapped)
    assert c.fit_info_["n_pca_points"] == 500 and c.components_.shape == (5, D)


def test_sobol_base_noise_is_normal_and_steadier_than_random():
    from aegen.samplers.base import standard_normal

    d, n = 8, 1024
    sobol_means = [standard_normal(np.random.default_rng(s), n, d, "sobol").mean(axis=0) for s in range(20)]
    random_means = [standard_normal(np.random.default_rng(s), n, d, "random").mean(axis=0) for s in range(20)]
    # Both are standard normal; the quasi-random sets' means scatter far less between seeds.
    one = standard_normal(np.random.default_rng(0), n, d, "sobol")
    assert abs(one.std() - 1.0) < 0.02 and np.all(np.isfinite(one))
    assert np.std(sobol_means) < 0.3 * np.std(random_means)
    cloud = np.random.default_rng(1).normal(size=(500, d)) @ np.diag(np.arange(1.0, d + 1)) + 3.0
    sampler = make_sampler("gaussian", base_noise="sobol").fit(cloud)
    V = sampler.sample(512, random_state=4)
    assert np.array_equal(V, sampler.sample(512, random_state=4))
    assert np.allclose(V.mean(axis=0), cloud.mean(axis=0), atol=0.15)
    with pytest.raises(ValueError, match="base_noise"):
        make_sampler("gaussian", base_noise="halton").check_params()
