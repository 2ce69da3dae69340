"""ellipse-pca: exact pair conditions, the same distribution as the literal process, the fit,
the histogram bins (a bin per component by default, the seed's one bin as an option)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from aegen.latent.fwhm import FWHM_PER_STD, SCOTT_FACTOR, histogram_fwhm
from aegen.latent.pca import LatentPCA
from aegen.latent.resolution import pca_fwhm_table
from aegen.latent.sigma import mahalanobis_radius
from aegen.samplers import EllipsePCASampler, ellipse_pca_literal, ellipse_process, load_sampler, unit_ellipse_process

HAS_NUMBA = ellipse_process.numba_kernel() is not None
needs_numba = pytest.mark.skipif(not HAS_NUMBA, reason="numba is not installed")
# Every backend of the fast process; the numba one is skipped where numba is absent.
BACKENDS = ["numpy", pytest.param("numba", marks=needs_numba)]


def top_two_sum(u: np.ndarray) -> np.ndarray:
    """Per row, the sum of the two largest u_k^2: all pair conditions hold iff it is <= 1."""
    squares = np.sort(np.asarray(u, dtype=float) ** 2, axis=1)
    return squares[:, -1] + (squares[:, -2] if u.shape[1] > 1 else 0.0)


def fixed_order_process(n_components: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """A wrong variant for checking the tests' power: pairs always in the order (0,1), (0,2), ..."""
    out = np.empty((n, n_components))
    for row in range(n):
        u = [None] * n_components
        for i in range(n_components):
            for j in range(i + 1, n_components):
                a, b = (i, j) if rng.random() < 0.5 else (j, i)
                if u[a] is None:
                    u[a] = rng.uniform(-1, 1)
                c = np.sqrt(1 - u[a] ** 2)
                if u[b] is None or abs(u[b]) > c:
                    u[b] = rng.uniform(-c, c)
        out[row] = u
    return out


STATISTICS = {
    "u_0": lambda u: u[:, 0],
    "max |u|": lambda u: np.abs(u).max(axis=1),
    "|u|": lambda u: np.linalg.norm(u, axis=1),
}


@pytest.fixture(scope="module")
def literal_samples() -> dict:
    """The literal reference at each tested K, computed once for all backends."""
    return {}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n_components, n_literal, seed", [(6, 3000, 11), (10, 2000, 12)])
def test_fast_process_has_the_literal_distribution(n_components, n_literal, seed, backend, literal_samples):
    if n_components not in literal_samples:
        literal_samples[n_components] = ellipse_pca_literal(np.ones(n_components), n_literal, random_state=seed)
    literal = literal_samples[n_components]
    fast = unit_ellipse_process(30000, n_components, random_state=seed + 100, backend=backend)
    for name, statistic in STATISTICS.items():
        p_value = stats.ks_2samp(statistic(literal), statistic(fast)).pvalue
        assert p_value > 0.01, f"{name}: KS p = {p_value:.2g} at K = {n_components}"


def test_the_ks_check_detects_a_wrong_process():
    rng = np.random.default_rng(5)
    literal = ellipse_pca_literal(np.ones(6), 3000, random_state=rng)
    wrong = fixed_order_process(6, 3000, rng)
    # With a fixed order, component 0 is always fixed first: it keeps its uniform first draw far more often.
    assert stats.ks_2samp(np.abs(literal[:, 0]), np.abs(wrong[:, 0])).pvalue < 1e-6


def test_literal_scales_match_the_unit_process():
    scales = np.array([2.0, 0.5, 1.0, 3.0])
    v = ellipse_pca_literal(scales, 2000, random_state=1)
    u = v / scales
    assert top_two_sum(u).max() <= 1 + 1e-12
    fast = unit_ellipse_process(20000, 4, random_state=2)
    assert stats.ks_2samp(u[:, 3], fast[:, 3]).pvalue > 0.01


def two_component_abs_cdf(x: np.ndarray) -> np.ndarray:
    """Exact CDF of |u_0| for K = 2: one visit; u_0 is the fixed uniform or the redrawn one.

    The redrawn |u| is sqrt(1 - W^2) V (W, V uniform on [0, 1]), with
    P(<= x) = 1 - sqrt(1 - x^2) + x arcsin(sqrt(1 - x^2)).
    """
    root = np.sqrt(1.0 - x**2)
    return (x + 1.0 - root + x * np.arcsin(root)) / 2.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_components_follow_the_exact_law(backend):
    u = unit_ellipse_process(100_000, 2, random_state=4, backend=backend)
    for k in range(2):
        assert stats.kstest(np.abs(u[:, k]), two_component_abs_cdf).pvalue > 0.01
    # Power: a process that never redraws (two independent uniforms) is far from it.
    uniform = np.random.default_rng(4).uniform(size=100_000)
    assert stats.kstest(uniform, two_component_abs_cdf).pvalue < 1e-6


@settings(max_examples=40, deadline=None)
@given(n_components=st.integers(1, 40), n=st.integers(1, 60), seed=st.integers(0, 2**32 - 1),
       chunk=st.integers(1, 64), backend=st.sampled_from(["numpy", "numba"] if HAS_NUMBA else ["numpy"]))
def test_every_pair_condition_holds(n_components, n, seed, chunk, backend):
    u = unit_ellipse_process(n, n_components, random_state=seed, chunk_size=chunk, backend=backend)
    assert u.shape == (n, n_components) and np.all(np.isfinite(u))
    assert np.abs(u).max() <= 1.0
    assert top_two_sum(u).max() <= 1.0 + 1e-12


@pytest.mark.parametrize("backend", BACKENDS)
def test_threads_do_not_change_the_result(backend):
    one = unit_ellipse_process(10000, 20, random_state=7, chunk_size=500, n_jobs=1, backend=backend)
    two = unit_ellipse_process(10000, 20, random_state=7, chunk_size=500, n_jobs=2, backend=backend)
    np.testing.assert_array_equal(one, two)
    assert not np.array_equal(one, unit_ellipse_process(10000, 20, random_state=8, chunk_size=500, backend=backend))
    with pytest.raises(ValueError, match="n must be"):
        unit_ellipse_process(0, 5, backend=backend)


@needs_numba
def test_numba_rows_depend_on_the_seed_only():
    """Each row has its own seed: a longer run with the same seed starts with the same rows."""
    short = unit_ellipse_process(50, 12, random_state=5, backend="numba")
    long = unit_ellipse_process(9000, 12, random_state=5, n_jobs=2, backend="numba")
    np.testing.assert_array_equal(short, long[:50])
    assert not np.array_equal(short, unit_ellipse_process(50, 12, random_state=5, backend="numpy"))


def test_backend_choice(monkeypatch):
    assert ellipse_process.resolve_backend("numpy") == "numpy"
    assert ellipse_process.resolve_backend("auto") == ("numba" if HAS_NUMBA else "numpy")
    with pytest.raises(ValueError, match="backend must be one of auto, numba, numpy"):
        unit_ellipse_process(5, 3, backend="cuda")
    with pytest.raises(ValueError, match="backend must be"):
        EllipsePCASampler(backend="fortran").check_params()
    # Without numba, "auto" falls back to numpy and "numba" says what is missing.
    monkeypatch.setattr(ellipse_process, "numba_kernel", lambda: None)
    assert ellipse_process.resolve_backend("auto") == "numpy"
    with pytest.raises(ValueError, match="needs the numba package"):
        unit_ellipse_process(5, 3, backend="numba")
    np.testing.assert_array_equal(unit_ellipse_process(40, 6, random_state=1),
                                  unit_ellipse_process(40, 6, random_state=1, backend="numpy"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_process_fills_the_pair_ellipses(backend):
    """Not only inside: the unit disc of a pair is reached, and signs are symmetric."""
    u = unit_ellipse_process(20000, 30, random_state=3, backend=backend)
    assert top_two_sum(u).max() > 0.99
    assert abs(np.mean(u > 0) - 0.5) < 0.01
    assert np.abs(u.mean(axis=0)).max() < 0.03


@pytest.fixture(scope="module")
def cloud() -> np.ndarray:
    rng = np.random.default_rng(0)
    d = 24
    mixing = rng.normal(size=(d, d)) * np.linspace(1.0, 0.1, d)
    return (rng.normal(size=(8000, d)) @ mixing.T + 0.5).astype(np.float32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sampler_vectors_obey_the_ellipses(cloud, backend):
    sampler = EllipsePCASampler(n_components=16, fact=0.7, backend=backend).fit(cloud)
    assert sampler.mean_.shape == (24,) and sampler.components_.shape == (16, 24)
    assert sampler.half_widths_.shape == (16,)
    np.testing.assert_allclose(sampler.components_ @ sampler.components_.T, np.eye(16), atol=1e-10)
    V = sampler.sample(5000, random_state=0)
    assert sampler.last_sample_info["backend"] == backend
    u = ((V - sampler.mean_) @ sampler.components_.T) / (sampler.fact * sampler.half_widths_)
    np.testing.assert_allclose(u, sampler.to_unit(V))
    # V is float32: allow for its rounding, nothing more.
    assert top_two_sum(u).max() <= 1 + 1e-4
    assert top_two_sum(u).max() > 0.98
    # pair_excess (the report's explorer's "inside the seed's ellipses") is the same test, per vector.
    np.testing.assert_allclose(sampler.pair_excess(V), top_two_sum(u) - 1, atol=1e-9)
    outside = sampler.from_unit(np.r_[0.8, 0.0, 0.8, np.zeros(13)][None])
    assert sampler.pair_excess(outside)[0] == pytest.approx(0.28)
    # Only the first n_components PCA directions vary.
    residual = (V - sampler.mean_) - ((V - sampler.mean_) @ sampler.components_.T) @ sampler.components_
    assert np.abs(residual).max() < 1e-4


def test_fit_selects_the_core_and_measures_half_widths(cloud):
    sampler = EllipsePCASampler(n_components=8, fit_sigma=2.0, max_fit_points=3000).fit(cloud)
    info = sampler.fit_info_
    assert info["fit_mahalanobis_radius"] == pytest.approx(mahalanobis_radius(2.0, 24))
    # About 95.4% of a Gaussian cloud lies within the 2-sigma ellipsoid.
    assert 0.93 < info["n_within_fit_sigma"] / 8000 < 0.975
    assert info["n_pca_points"] == 3000
    # Histogram FWHM of near-Gaussian projections is close to 2.3548 standard deviations.
    np.testing.assert_allclose(sampler.half_widths_, FWHM_PER_STD * sampler.component_stds_, rtol=0.15)
    by_std = EllipsePCASampler(n_components=8, fit_sigma=2.0, max_fit_points=3000, width="std").fit(cloud)
    np.testing.assert_allclose(by_std.half_widths_, FWHM_PER_STD * by_std.component_stds_)
    same = EllipsePCASampler(n_components=8, fit_sigma=2.0, max_fit_points=3000).fit(cloud)
    np.testing.assert_array_equal(same.components_, sampler.components_)


def test_coarse_bin_width_loses_resolution(cloud):
    """The seed's caveat: one fixed bin width cannot resolve narrow components."""
    fine = EllipsePCASampler(n_components=20, width="std").fit(cloud)
    with pytest.warns(UserWarning, match="narrower than one histogram bin"):
        coarse = EllipsePCASampler(n_components=20, bin_width=float(fine.component_stds_[0])).fit(cloud)
    narrow = fine.component_stds_ < fine.component_stds_[0] / 4
    assert narrow.any()
    error = np.abs(coarse.half_widths_ / fine.half_widths_ - 1)
    assert error[narrow].mean() > 2 * error[~narrow].mean()


@pytest.mark.parametrize("backend", BACKENDS)
def test_single_component(backend):
    u = unit_ellipse_process(4000, 1, random_state=0, backend=backend)
    assert np.abs(u).max() <= 1 and stats.kstest(u[:, 0], stats.uniform(-1, 2).cdf).pvalue > 0.01
    v = ellipse_pca_literal(np.array([2.0]), 50, random_state=0)
    assert np.abs(v).max() <= 2


# -- histogram bins: the default against the seed's ------------------------------------------------

# Widths of the components in units of the seed's bin (Scott's rule on the widest component):
# the widest is 10 bins when N = (10 * 3.49)^3, about 42,500 points.
SEED_BINS = np.geomspace(10.0, 0.03, 12)
N_BINS_CLOUD = int(round((SEED_BINS[0] * SCOTT_FACTOR) ** 3))


@pytest.fixture(scope="module")
def bins_cloud() -> tuple[np.ndarray, np.ndarray]:
    """Independent normal components (N_BINS_CLOUD, 12) of 10 down to 0.03 seed bins; (Z, stds)."""
    stds = SEED_BINS / SEED_BINS[0]
    return np.random.default_rng(21).standard_normal((N_BINS_CLOUD, stds.size)) * stds, stds


def quiet_fit(sampler, Z):
    """Fit with warnings turned into errors: the default must not warn."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return sampler.fit(Z)


def test_default_bins_measure_every_width_within_5_percent(bins_cloud):
    Z, stds = bins_cloud
    sampler = quiet_fit(EllipsePCASampler(n_components=12, fit_sigma=8.0), Z)
    np.testing.assert_allclose(sampler.half_widths_, FWHM_PER_STD * stds, rtol=0.05)
    # Every component is resolved alike: std / bin = N^(1/5) / 1.8 (about 7 bins per std here).
    n_points = sampler.fit_info_["n_pca_points"]
    np.testing.assert_allclose(sampler.std_in_bins_, n_points**0.2 / 1.8, rtol=1e-9)
    assert sampler.fit_info_["bin_width"] is None and len(sampler.fit_info_["std_in_bins"]) == 12
    # The analysis table uses the same rule through the same function.
    table = pca_fwhm_table(Z, LatentPCA().fit(Z))
    assert table["bin_rule"] == "per-component" and table["breakdown_from_component"] is None
    np.testing.assert_allclose(table["histogram_fwhm"], FWHM_PER_STD * stds, rtol=0.05)


def test_seed_bins_reproduce_the_resolution_problem(bins_cloud):
    Z, stds = bins_cloud
    with pytest.warns(UserWarning, match=r"ellipse-pca: \d+ of 12 kept PCA components are narrower than one"):
        seed = EllipsePCASampler(n_components=12, fit_sigma=8.0, bin_width="seed", core_correction=False).fit(Z)
    # The seed's literal choice: one bin, Scott's rule on the widest component, for all.
    bin_width = SCOTT_FACTOR * seed.component_stds_[0] * seed.fit_info_["n_pca_points"] ** (-1 / 3)
    assert seed.fit_info_["bin_width"] == pytest.approx(bin_width, rel=1e-12)
    assert seed.fit_info_["n_pca_points"] == Z.shape[0]
    projections = (Z - seed.mean_) @ seed.components_.T
    literal = [histogram_fwhm(projections[:, k], bin_width) for k in range(12)]
    np.testing.assert_allclose(seed.half_widths_, literal, rtol=1e-9)
    np.testing.assert_allclose(seed.std_in_bins_, SEED_BINS, rtol=0.03)
    ratio = seed.half_widths_ / (FWHM_PER_STD * stds)
    assert np.all(np.abs(ratio[SEED_BINS > 3] - 1) < 0.1)  # wide components: fine
    assert ratio[np.argmin(np.abs(SEED_BINS - 0.5))] > 1.3  # half a bin: far too wide
    assert ratio[-1] > 10  # 0.03 bin: measured about one bin wide
    assert seed.half_widths_[-1] == pytest.approx(bin_width, rel=0.5)
    table = pca_fwhm_table(Z, LatentPCA().fit(Z))["seed"]
    assert table["breakdown_from_component"] is not None
    assert table["histogram_fwhm"][-1] > 10 * table["gaussian_fwhm"][-1]


def test_std_widths_and_default_bins_do_not_warn(bins_cloud):
    Z, _ = bins_cloud
    quiet_fit(EllipsePCASampler(n_components=12, bin_width="seed", width="std"), Z[:5000])
    quiet_fit(EllipsePCASampler(n_components=12), Z[:5000])


def test_old_saved_sampler_with_auto_still_loads_and_samples_as_before(cloud, tmp_path):
    """A folder as samplers were saved before per-component bins: bin_width "auto", no correction."""
    old = EllipsePCASampler(n_components=16, bin_width="seed", core_correction=False).fit(cloud)
    folder = old.save(tmp_path / "old")
    meta = json.loads((folder / "params.json").read_text())
    meta["params"]["bin_width"] = "auto"
    del meta["params"]["core_correction"]
    for key in ("std_in_bins", "core_correction", "core_variance_ratio", "core_fwhm_ratio", "core_dof"):
        del meta["fit_info"][key]
    (folder / "params.json").write_text(json.dumps(meta))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # loading does not warn
        loaded = load_sampler(folder)
    assert loaded.bin_width == "auto" and loaded.core_correction is False
    np.testing.assert_allclose(loaded.std_in_bins_, old.std_in_bins_)
    np.testing.assert_array_equal(loaded.sample(30, random_state=2), old.sample(30, random_state=2))
    # Refitting with "auto" is the seed's rule, with a FutureWarning that says so.
    with pytest.warns(FutureWarning, match="earlier name of 'seed'"):
        refit = EllipsePCASampler(n_components=16, bin_width="auto", core_correction=False).fit(cloud)
    np.testing.assert_array_equal(refit.half_widths_, old.half_widths_)


@pytest.mark.parametrize("bad", ["scott", -1.0, 0.0, float("nan"), True, [0.1]])
def test_bad_bin_width(bad):
    with pytest.raises(ValueError, match="bin_width must be 'per-component', 'seed'"):
        EllipsePCASampler(bin_width=bad).check_params()
