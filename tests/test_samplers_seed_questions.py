"""The seed's open questions as samplers, and the covariance correction of a fitted core.

- the core correction: a covariance fitted inside a Mahalanobis cut-off, divided by
  F_chi2(d+2)(D^2) / F_chi2(d)(D^2), is the full covariance of a normal cloud;
- ellipse-original: the pairwise process in the original coordinates;
- ellipsoid: uniform in the confidence ellipsoid at the seed's settings.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from scipy import stats

from aegen import AegenError
from aegen.latent.fwhm import FWHM_PER_STD, component_bin_widths, histogram_fwhm
from aegen.latent.sigma import core_fwhm_ratio, core_variance_ratio, mahalanobis_radius
from aegen.samplers import (
    SAMPLERS, EllipseOriginalSampler, EllipsePCASampler, EllipsoidSampler, ellipse_process, load_sampler,
    make_sampler, unit_ellipse_process,
)
from aegen.samplers.core import fit_core
from aegen.samplers.ellipse_original import original_process_numpy, pair_excess

HAS_NUMBA = ellipse_process.numba_kernel() is not None
BACKENDS = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(not HAS_NUMBA, reason="numba is not installed"))]
D = 10


def random_covariance(d: int, seed: int, spread: float = 30.0) -> np.ndarray:
    """A covariance with random axes and variances from 1 down to 1/spread."""
    rng = np.random.default_rng(seed)
    axes, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return axes @ np.diag(np.geomspace(1.0, 1.0 / spread, d)) @ axes.T


def normal_cloud(n: int, cov: np.ndarray, seed: int) -> np.ndarray:
    """n points of N(linspace(-1, 1), cov)."""
    normal = np.random.default_rng(seed).standard_normal((n, len(cov)))
    return normal @ np.linalg.cholesky(cov).T + np.linspace(-1, 1, len(cov))


@pytest.fixture(scope="module")
def cloud() -> np.ndarray:
    """Correlated normal z-points (4000, D), off-centre."""
    return normal_cloud(4000, random_covariance(D, 3, spread=10.0), 4).astype(np.float32)


# -- the core correction -----------------------------------------------------------------------------

@pytest.mark.parametrize("d, n", [(20, 40_000), (256, 20_000)])
@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.0])
def test_corrected_core_covariance_is_the_full_one(d, n, sigma):
    cov = random_covariance(d, seed=d)
    Z = normal_cloud(n, cov, seed=int(10 * sigma) + d)
    core = fit_core(Z, sigma, n, 2, np.random.default_rng(0), core_correction=True)
    raw_covariance = core.covariance * core.variance_ratio  # what the core's points give
    assert core.variance_ratio == pytest.approx(core_variance_ratio(mahalanobis_radius(sigma, d), d))
    # In the true whitened frame the corrected covariance is the identity up to sampling error.
    root_inv = np.linalg.inv(np.linalg.cholesky(cov))
    whitened = root_inv @ core.covariance @ root_inv.T
    mean_variance = np.trace(whitened) / d
    # Sampling error of the mean variance: var(r^2 | core) / (d^2 n_core), about 2 / (d n_core).
    error = math.sqrt(2.0 / (d * core.rows.size))
    assert abs(mean_variance - 1.0) < 4 * error
    assert abs(np.trace(root_inv @ raw_covariance @ root_inv.T) / d - core.variance_ratio) < 4 * error
    if sigma < 3.0:  # the uncorrected core is measurably too small
        assert 1.0 - core.variance_ratio > 8 * error
    # Entry by entry (the correction is one scalar): the whitened core covariance is near identity.
    assert np.abs(whitened - np.eye(d)).max() < 6 * math.sqrt(2.0 / core.rows.size)


def test_core_variance_ratio_formula():
    # Small cases checked against direct integration of r^2 over the chi-square density.
    for d, radius in [(1, 1.0), (2, 1.5), (20, 4.0), (256, 15.0)]:
        mean_r2 = stats.chi2.expect(lambda x: x, args=(d,), lb=0, ub=radius**2, conditional=True)
        assert core_variance_ratio(radius, d) == pytest.approx(mean_r2 / d, rel=1e-6)
    assert core_variance_ratio(1e6, 5) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="dof"):
        core_variance_ratio(1.0, 0)


def test_core_fwhm_ratio_matches_the_histogram_of_a_cut_cloud():
    d, sigma = 20, 1.0
    radius = mahalanobis_radius(sigma, d)
    X = np.random.default_rng(5).standard_normal((150_000, d))
    core = X[np.einsum("ij,ij->i", X, X) <= radius**2]
    bins = component_bin_widths(core.std(axis=0), len(core))
    measured = np.mean([histogram_fwhm(core[:, k], bins[k]) for k in range(d)]) / FWHM_PER_STD
    assert measured == pytest.approx(core_fwhm_ratio(radius, d), abs=0.01)
    # The cut thins the tails more than the peak: the FWHM shrinks less than the std.
    assert core_fwhm_ratio(radius, d) - math.sqrt(core_variance_ratio(radius, d)) > 0.02
    assert core_fwhm_ratio(0.5, 1) == pytest.approx(0.5 / math.sqrt(2 * math.log(2)))


@pytest.mark.parametrize("width", ["std", "fwhm"])
def test_ellipse_pca_widths_are_corrected_for_the_cut(width):
    cov = np.diag(np.geomspace(4.0, 0.5, 8))
    Z = normal_cloud(60_000, cov, seed=8)
    true_widths = FWHM_PER_STD * np.sqrt(np.diag(cov))
    on = EllipsePCASampler(n_components=8, fit_sigma=1.0, width=width).fit(Z)
    off = EllipsePCASampler(n_components=8, fit_sigma=1.0, width=width, core_correction=False).fit(Z)
    np.testing.assert_allclose(on.half_widths_, true_widths, rtol=0.05)
    ratio = on.fit_info_["core_variance_ratio" if width == "std" else "core_fwhm_ratio"]
    ratio = math.sqrt(ratio) if width == "std" else ratio
    np.testing.assert_allclose(off.half_widths_, on.half_widths_ * ratio, rtol=1e-12)
    assert np.mean(off.half_widths_ / true_widths) < 0.96  # uncorrected: too narrow
    assert on.fit_info_["core_correction"] is True and off.fit_info_["core_variance_ratio"] == 1.0


# -- ellipse-original: the pairwise process in the original coordinates ---------------------------

def literal_original(correlation: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Reference: one vector at a time, sweeps over all pairs in random order until all hold."""
    d = len(correlation)
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    out = np.empty((n, d))
    for row in range(n):
        y = [None] * d
        while True:
            for p in rng.permutation(len(pairs)):
                i, j = pairs[p]
                if rng.random() < 0.5:
                    i, j = j, i
                if y[i] is None:
                    y[i] = rng.uniform(-1, 1)
                rho = correlation[i, j]
                centre, half = rho * y[i], math.sqrt((1 - rho**2) * max(0.0, 1 - y[i] ** 2))
                if y[j] is None or abs(y[j] - centre) > half:
                    y[j] = rng.uniform(centre - half, centre + half)
            if pair_excess(np.array([y]), correlation)[0] <= 1e-12:
                break
        out[row] = y
    return out


def strong_correlation(d: int = 5) -> np.ndarray:
    cov = random_covariance(d, seed=11, spread=50.0)
    s = np.sqrt(np.diag(cov))
    return cov / np.outer(s, s)


@pytest.mark.parametrize("backend", BACKENDS)
def test_original_process_has_the_literal_distribution(backend):
    correlation = strong_correlation()
    literal = literal_original(correlation, 1500, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    if backend == "numba":
        fast, sweeps = ellipse_process.numba_kernel().original_process(20_000, correlation, rng, 50, 20)
    else:
        fast, sweeps = original_process_numpy(20_000, correlation, rng, 50, 20)
    assert np.all(sweeps >= 1) and sweeps.max() > 1  # strong correlations need more than one sweep
    assert pair_excess(fast, correlation).max() <= 1e-9
    for k in range(correlation.shape[0]):
        assert stats.ks_2samp(literal[:, k], fast[:, k]).pvalue > 0.005, f"component {k}"
    product = stats.ks_2samp(literal[:, 0] * literal[:, 1], fast[:, 0] * fast[:, 1]).pvalue
    assert product > 0.005


def test_without_correlations_it_is_the_pca_process():
    """rho = 0 everywhere: the ellipses are the PCA version's circles and one sweep suffices."""
    y, sweeps = original_process_numpy(20_000, np.eye(6), np.random.default_rng(3), 50, 0)
    assert np.all(sweeps == 1)
    u = unit_ellipse_process(20_000, 6, random_state=4, backend="numpy")
    for statistic in (lambda a: a[:, 0], lambda a: np.abs(a).max(axis=1), lambda a: np.linalg.norm(a, axis=1)):
        assert stats.ks_2samp(statistic(y), statistic(u)).pvalue > 0.005


@pytest.mark.parametrize("backend", BACKENDS)
def test_ellipse_original_sampler_meets_every_pair_condition(cloud, backend):
    sampler = EllipseOriginalSampler(fact=0.7, backend=backend).fit(cloud)
    assert sampler.mean_.shape == (D,) and sampler.correlation_.shape == (D, D)
    V = sampler.sample(3000, random_state=0)
    assert V.shape == (3000, D) and V.dtype == np.float32
    assert sampler.pair_excess(V).max() <= 1e-4  # float32 rounding only
    assert sampler.pair_excess(V).max() > -0.05  # the ellipses are reached, not just respected
    np.testing.assert_array_equal(V, sampler.sample(3000, random_state=0))
    assert not np.array_equal(V, sampler.sample(3000, random_state=1))
    # The normalised coordinates reproduce the sign of the fitted correlations.
    y = sampler.to_unit(V)
    pairs = np.triu_indices(D, 1)
    strong = np.abs(sampler.correlation_[pairs]) > 0.3
    sample_corr = np.corrcoef(y, rowvar=False)[pairs]
    assert np.all(np.sign(sample_corr[strong]) == np.sign(sampler.correlation_[pairs][strong]))
    info = sampler.last_sample_info["sweeps"]
    assert info["mean"] >= 1 and info["restarts"] == 0 and sampler.last_sample_info["backend"] == backend


def test_ellipse_original_gives_up_with_a_clear_error():
    correlation = strong_correlation(8)
    y, sweeps = original_process_numpy(200, correlation, np.random.default_rng(0), 1, 0)
    assert np.any(sweeps < 0)  # one sweep is not enough for some vectors
    sampler = EllipseOriginalSampler(max_sweeps=1, max_restarts=0, backend="numpy")
    sampler.fit(normal_cloud(3000, random_covariance(8, seed=11, spread=50.0), seed=1))
    with pytest.raises(ValueError, match="missed a pair condition after 1 tries of 1 sweeps"):
        sampler.sample(500, random_state=0)


def test_ellipse_original_refuses_perfectly_correlated_components(cloud):
    twin = np.concatenate([cloud, cloud[:, :1] * 2.0], axis=1)
    with pytest.raises(ValueError, match=f"components 0 and {D} are perfectly correlated"):
        EllipseOriginalSampler().fit(twin)


# -- ellipsoid: uniform in the confidence ellipsoid -----------------------------------------------------

def test_ellipsoid_samples_fill_the_ellipsoid_uniformly(cloud):
    sampler = EllipsoidSampler(n_components=6, fact=0.7).fit(cloud)
    assert sampler.sigma_level_ == pytest.approx(0.7 * FWHM_PER_STD)
    assert sampler.radius_ == pytest.approx(mahalanobis_radius(0.7 * FWHM_PER_STD, 6))
    V = sampler.sample(20_000, random_state=0)
    assert V.shape == (20_000, D) and V.dtype == np.float32
    r = sampler.ellipsoid_radius(V)
    assert r.max() <= sampler.radius_ * (1 + 1e-5) and r.max() > 0.999 * sampler.radius_
    # Uniform in a 6-dimensional ball: (r / R)^6 is uniform on [0, 1].
    assert stats.kstest((r / sampler.radius_) ** 6, "uniform").pvalue > 0.005
    # Only the 6 PCA directions vary; the ellipsoid is centred on the core's mean.
    residual = (V - sampler.mean_) - ((V - sampler.mean_) @ sampler.components_.T) @ sampler.components_
    assert np.abs(residual).max() < 1e-4
    assert np.abs(V.mean(axis=0) - sampler.mean_).max() < 0.05 * sampler.half_widths_[0]


def test_ellipsoid_uses_the_ellipse_pca_fit(cloud):
    """At equal settings the two samplers share PCA, widths and bins: only the region differs."""
    ellipsoid = EllipsoidSampler(n_components=6, fact=0.6, fit_sigma=3.0).fit(cloud)
    pairwise = EllipsePCASampler(n_components=6, fact=0.6, fit_sigma=3.0).fit(cloud)
    for name in ("mean_", "components_", "half_widths_", "component_stds_", "std_in_bins_"):
        np.testing.assert_array_equal(getattr(ellipsoid, name), getattr(pairwise, name))


# -- the contract of the new samplers ------------------------------------------------------------------

NEW = {"ellipse-original": {"backend": "numpy"}, "ellipsoid": {"n_components": 6}}


@pytest.mark.parametrize("name", NEW)
def test_registered_with_the_common_parameter_names(name):
    klass = SAMPLERS[name]
    params = set(klass().get_params())
    assert {"fact", "fit_sigma", "random_state", "core_correction", "bin_width", "width", "max_fit_points"} <= params
    assert ("n_components" in params) == (name == "ellipsoid")


@pytest.mark.parametrize("name", NEW)
def test_save_load_round_trip_and_fit_determinism(cloud, name, tmp_path):
    sampler = make_sampler(name, max_fit_points=1000, random_state=5, **NEW[name]).fit(cloud)
    folder = sampler.save(tmp_path / name)
    loaded = load_sampler(folder)
    assert type(loaded) is type(sampler) and loaded.get_params() == sampler.get_params()
    np.testing.assert_array_equal(loaded.sample(40, random_state=1), sampler.sample(40, random_state=1))
    np.testing.assert_array_equal(loaded.std_in_bins_, sampler.std_in_bins_)
    assert "pickle" not in (folder / "params.json").read_text()
    again = make_sampler(name, max_fit_points=1000, random_state=5, **NEW[name]).fit(cloud)
    other = make_sampler(name, max_fit_points=1000, random_state=6, **NEW[name]).fit(cloud)
    np.testing.assert_array_equal(again.mean_, sampler.mean_)
    assert not np.array_equal(other.mean_, sampler.mean_)  # another subsample of the core
    # A hand-edited params.json with a bad parameter is refused at load.
    meta = json.loads((folder / "params.json").read_text())
    meta["params"]["fact"] = 3.0
    (folder / "params.json").write_text(json.dumps(meta))
    with pytest.raises(AegenError, match="fact must be in"):
        load_sampler(folder)


@pytest.mark.parametrize("name, params, message", [
    ("ellipsoid", {"fact": 0.0}, "fact must be in"),
    ("ellipsoid", {"n_components": 0}, "n_components must be"),
    ("ellipsoid", {"n_components": D + 1}, f"n_components must be in 1..{D}"),
    ("ellipsoid", {"bin_width": "scott"}, "bin_width must be"),
    ("ellipsoid", {"width": "wide"}, "width must be"),
    ("ellipsoid", {"fit_sigma": -1.0}, "fit_sigma must be in"),
    ("ellipsoid", {"core_correction": "yes"}, "core_correction must be True or False"),
    ("ellipse-original", {"fact": 1.5}, "fact must be in"),
    ("ellipse-original", {"max_sweeps": 0}, "max_sweeps must be"),
    ("ellipse-original", {"backend": "cuda"}, "backend must be one of"),
    ("ellipse-original", {"random_state": -1}, "random_state must be"),
    ("ellipse-original", {"max_fit_points": 3}, "max_fit_points must be"),
])
def test_bad_parameters_are_refused_at_fit(cloud, name, params, message):
    sampler = make_sampler(name, **params)  # stored untouched
    with pytest.raises(ValueError, match=message):
        sampler.fit(cloud)


@pytest.mark.parametrize("name", NEW)
def test_sampling_leaves_the_fit_alone_and_too_few_points_fail(cloud, name):
    sampler = make_sampler(name, **NEW[name]).fit(cloud)
    before = {key: value.copy() for key, value in vars(sampler).items() if isinstance(value, np.ndarray)}
    sampler.sample(20, random_state=0)
    for key, value in before.items():
        np.testing.assert_array_equal(getattr(sampler, key), value)
    with pytest.raises(ValueError, match="too few points"):
        make_sampler(name, **NEW[name]).fit(cloud[:5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default bins never leave a component below one bin
        make_sampler(name, **NEW[name]).fit(cloud)
