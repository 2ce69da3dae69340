"""The learned samplers (normalizing flow, flow matching): densities, seeds, save/load, bad input."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from scipy import stats

from aegen import AegenError
from aegen.samplers import FlowMatchingSampler, FlowSampler, GaussianSampler, load_sampler, make_sampler
from aegen.model import pick_device
from aegen.samplers.learned import pca_whitening, radius_knots

# Tiny networks and few epochs: every fit below takes well under a second.
TINY_FLOW = {"transforms": 2, "hidden_features": 16, "hidden_layers": 1, "epochs": 3, "batch_size": 128,
             "progress": False}
TINY_FM = {"width": 16, "blocks": 1, "epochs": 3, "batch_size": 128, "steps": 4, "progress": False}


@pytest.fixture
def zuko():
    return pytest.importorskip("zuko")


@pytest.fixture(scope="module")
def cloud() -> np.ndarray:
    """Correlated, off-centre Gaussian z-points (1500, 6)."""
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(6, 6)) * np.linspace(1.0, 0.3, 6)
    return (rng.normal(size=(1500, 6)) @ mixing.T + 2.0).astype(np.float32)


def _make(kind: str, **params):
    if kind == "flow":
        pytest.importorskip("zuko")
        return FlowSampler(**{**TINY_FLOW, **params})
    return FlowMatchingSampler(**{**TINY_FM, **params})


def _weights_digest(sampler) -> str:
    state = sampler.network_.state_dict()
    return hashlib.sha256(b"".join(state[k].cpu().numpy().tobytes() for k in sorted(state))).hexdigest()


def mass_on_grid(sampler, half_width: float, steps: int) -> float:
    """Riemann sum of exp(log_prob) of a 2-D sampler over the square [-half_width, half_width]^2."""
    grid = np.linspace(-half_width, half_width, steps)
    points = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
    return float(np.exp(sampler.log_prob(points)).sum() * (grid[1] - grid[0]) ** 2)


@pytest.mark.slow
def test_flow_fitted_to_a_gaussian_recovers_its_log_density(zuko, cloud):
    """On held-out points the flow's log density is within 0.05 nats per dimension of the truth."""
    rng = np.random.default_rng(1)
    mean, cov = cloud.mean(axis=0), np.cov(cloud, rowvar=False)
    train = rng.multivariate_normal(mean, cov, size=2000)
    heldout = rng.multivariate_normal(mean, cov, size=1000)
    flow = FlowSampler(**{**TINY_FLOW, "epochs": 8, "hidden_features": 32, "batch_size": 256}).fit(train)
    truth = stats.multivariate_normal(mean, cov).logpdf(heldout)
    error_per_dim = np.abs(flow.log_prob(heldout) - truth).mean() / train.shape[1]
    assert error_per_dim < 0.05
    # Its samples have the Gaussian's covariance (to sampling error).
    samples = flow.sample(4000, random_state=0)
    np.testing.assert_allclose(np.cov(samples, rowvar=False), cov, atol=0.15 * np.abs(cov).max())


@pytest.mark.slow
def test_flow_density_integrates_to_one_at_every_temperature_and_beats_the_gaussian(zuko):
    """A 2-D two-moons cloud: exp(log_prob) sums to 1 (to 3%) on a grid, at temperatures 1 and 0.6."""
    rng = np.random.default_rng(2)
    angle = rng.uniform(0, np.pi, 2000)
    side = rng.integers(0, 2, 2000)
    Z = np.stack([np.cos(angle) + side - 0.5, (1 - 2 * side) * (np.sin(angle) - 0.3)], axis=1)
    Z += rng.normal(scale=0.1, size=Z.shape)
    flow = FlowSampler(transforms=4, hidden_features=32, hidden_layers=2, transform="spline", epochs=25,
                       batch_size=256, bound=4.0, progress=False).fit(Z[:1500])
    gaussian = GaussianSampler().fit(Z[:1500])
    assert flow.log_prob(Z[1500:]).mean() > gaussian.log_prob(Z[1500:]).mean() + 0.3
    for temperature in (1.0, 0.6):
        flow.temperature = temperature
        assert mass_on_grid(flow, 4.0, 141) == pytest.approx(1.0, abs=0.03)


def test_radial_gaussianization_is_an_exact_bijection_with_the_right_log_det():
    """Heavy-tailed radii map to normal-like ones, back exactly, with log |det| matching finite differences."""
    rng = np.random.default_rng(3)
    d = 5
    Z = rng.normal(size=(3000, d)) * np.exp(rng.normal(scale=0.5, size=(3000, 1))) @ rng.normal(size=(d, d)) + 1.0
    sampler = FlowMatchingSampler(gaussianize_radius=True)
    sampler.mean_, sampler.components_, sampler.scales_ = pca_whitening(Z)
    sampler.radius_knots_, sampler.radius_targets_ = radius_knots(sampler._whiten(Z))
    X, log_det = sampler._to_model(Z)
    np.testing.assert_allclose(sampler._from_model(X), Z, rtol=1e-9, atol=1e-9)
    # The radii now follow the chi distribution of d degrees of freedom (a normal's radii), not the input's.
    assert stats.kstest(np.linalg.norm(X, axis=1), stats.chi(d).cdf).statistic < 0.03
    assert stats.kstest(np.linalg.norm(sampler._whiten(Z), axis=1), stats.chi(d).cdf).statistic > 0.1
    for row in (0, 1, 2):
        jacobian = np.empty((d, d))
        for j in range(d):
            step = np.zeros(d)
            step[j] = 1e-6
            ahead, behind = sampler._to_model(Z[row:row + 1] + step)[0], sampler._to_model(Z[row:row + 1] - step)[0]
            jacobian[:, j] = (ahead - behind)[0] / 2e-6
        assert np.linalg.slogdet(jacobian)[1] == pytest.approx(log_det[row], abs=1e-4)


@pytest.mark.parametrize("kind", ["flow", "flow-matching"])
def test_fit_and_sample_are_determined_by_random_state(kind, cloud):
    a = _make(kind, random_state=5).fit(cloud)
    b = _make(kind, random_state=5).fit(cloud)
    c = _make(kind, random_state=6).fit(cloud)
    assert _weights_digest(a) == _weights_digest(b) != _weights_digest(c)
    V = a.sample(50, random_state=3)
    assert V.shape == (50, 6) and V.dtype == np.float32 and np.all(np.isfinite(V))
    np.testing.assert_array_equal(V, b.sample(50, random_state=3))
    assert not np.array_equal(V, a.sample(50, random_state=4))
    assert a.fit_info_["random_state"] == 5 and len(a.fit_info_["epoch_loss"]) == 3


@pytest.mark.parametrize("kind", ["flow", "flow-matching"])
def test_fit_and_sample_leave_state_and_global_generators_alone(kind, cloud):
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    sampler = _make(kind).fit(cloud)
    digest, mean = _weights_digest(sampler), sampler.mean_.copy()
    first = sampler.sample(20, random_state=1)
    sampler.sample(30, random_state=2)
    np.testing.assert_array_equal(first, sampler.sample(20, random_state=1))
    assert _weights_digest(sampler) == digest and np.array_equal(sampler.mean_, mean)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state)


@pytest.mark.parametrize("kind", ["flow", "flow-matching"])
def test_save_load_round_trip(kind, cloud, tmp_path):
    sampler = _make(kind).fit(cloud)
    folder = sampler.save(tmp_path / kind)
    assert sorted(p.name for p in folder.iterdir()) == ["params.json", "state.npz", "weights.safetensors"]
    loaded = load_sampler(folder)
    assert type(loaded) is type(sampler) and loaded.get_params() == sampler.get_params()
    np.testing.assert_array_equal(loaded.sample(40, random_state=7), sampler.sample(40, random_state=7))
    if kind == "flow":
        np.testing.assert_array_equal(loaded.log_prob(cloud[:100]), sampler.log_prob(cloud[:100]))
    # Changing the temperature after loading changes the samples (the pipeline sets it this way).
    loaded.temperature = 0.5
    assert not np.array_equal(loaded.sample(40, random_state=7), sampler.sample(40, random_state=7))


@pytest.mark.parametrize("kind", ["flow", "flow-matching"])
def test_corrupt_replaced_or_pickled_weights_are_refused(kind, cloud, tmp_path):
    folder = _make(kind).fit(cloud).save(tmp_path / kind)
    weights = folder / "weights.safetensors"
    original = weights.read_bytes()
    weights.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))
    with pytest.raises(AegenError, match="SHA-256 differs"):
        load_sampler(folder)

    def replace_weights(data: bytes) -> None:  # a replaced file whose hash params.json was made to match
        weights.write_bytes(data)
        meta = json.loads((folder / "params.json").read_text())
        meta["extra"]["weights"]["sha256"] = hashlib.sha256(data).hexdigest()
        (folder / "params.json").write_text(json.dumps(meta))

    pickled = tmp_path / "pickled.pt"
    torch.save({"anything": torch.zeros(3)}, pickled)
    replace_weights(pickled.read_bytes())
    with pytest.raises(AegenError, match="not a readable safetensors"):
        load_sampler(folder)

    from safetensors.torch import save as to_safetensors

    replace_weights(to_safetensors({"unexpected": torch.zeros(2)}))
    with pytest.raises(AegenError, match="refusing .* is missing"):
        load_sampler(folder)
    weights.unlink()
    with pytest.raises(AegenError, match="missing file"):
        load_sampler(folder)


@pytest.mark.parametrize("kind, params, message", [
    ("flow", {"epochs": 0}, "epochs"),
    ("flow", {"transform": "cubic"}, "transform must be one of spline, affine"),
    ("flow", {"bins": 1}, "bins"),
    ("flow", {"bound": -1.0}, "bound"),
    ("flow", {"temperature": 0.0}, "temperature"),
    ("flow", {"learning_rate": "fast"}, "learning_rate"),
    ("flow", {"base": "student"}, "base must be one of normal, gmm"),
    ("flow", {"base": "gmm", "base_components": 0}, "base_components"),
    ("flow-matching", {"temperature": -0.5}, "temperature"),
    ("flow-matching", {"solver": "rk5"}, "solver must be one of euler, heun, rk4"),
    ("flow-matching", {"steps": 0}, "steps"),
    ("flow-matching", {"ema_decay": 1.0}, "ema_decay"),
    ("flow-matching", {"device": "tpu"}, "device must be"),
    ("flow-matching", {"progress": "yes"}, "progress"),
    ("flow-matching", {"random_state": -1}, "random_state"),
])
def test_bad_parameters_are_refused_at_fit(kind, params, message, cloud):
    sampler = _make(kind, **params)  # stored untouched, as scikit-learn estimators do
    with pytest.raises(ValueError, match=message) as info:
        sampler.fit(cloud)
    assert "\n" not in str(info.value)
    assert not hasattr(sampler, "network_")


def test_bad_input_and_unfitted_use_are_refused(cloud):
    sampler = _make("flow-matching")
    with pytest.raises(ValueError, match="not fitted"):
        sampler.sample(3)
    with pytest.raises(ValueError, match="too few points"):
        sampler.fit(cloud[:5])
    with pytest.raises(ValueError, match="NaN or Inf"):
        sampler.fit(np.full((20, 3), np.nan))
    sampler.fit(cloud)
    with pytest.raises(NotImplementedError, match="flow-matching sampler defines no density"):
        sampler.log_prob(cloud)
    with pytest.raises(ValueError, match="n must be"):
        sampler.sample(0)


def test_flow_log_prob_checks_its_input(zuko, cloud):
    flow = _make("flow").fit(cloud)
    with pytest.raises(ValueError, match="Z has 3 columns"):
        flow.log_prob(cloud[:, :3])
    assert flow.log_prob(cloud[:7]).shape == (7,)


@pytest.mark.parametrize("kind", ["flow", "flow-matching"])
def test_temperature_scales_the_spread(kind, cloud):
    """Lower temperature: samples closer to the centre (whitened radius), same fitted network."""
    sampler = _make(kind, epochs=5).fit(cloud)
    radius = {}
    for temperature in (1.0, 0.5):
        sampler.temperature = temperature
        radius[temperature] = np.linalg.norm(sampler._whiten(sampler.sample(2000, random_state=0)), axis=1).mean()
    assert radius[0.5] < 0.75 * radius[1.0]


@pytest.mark.parametrize("solver", ["euler", "heun", "rk4"])
def test_flow_matching_solvers_agree_on_a_learned_field(solver, cloud):
    """Every solver integrates the same field: at 16 steps they agree with RK4 at 64 to 2%."""
    sampler = _make("flow-matching", epochs=5, solver=solver, steps=16).fit(cloud)
    reference = FlowMatchingSampler(**{**sampler.get_params(), "solver": "rk4", "steps": 64})
    reference.__dict__.update({k: v for k, v in vars(sampler).items() if k.endswith("_")})  # the fitted state
    V, R = sampler.sample(200, random_state=0), reference.sample(200, random_state=0)
    assert np.abs(V - R).max() < 0.02 * np.abs(R).max()
    assert sampler.evaluations_per_sample == {"euler": 16, "heun": 31, "rk4": 64}[solver]


def test_registered_and_progress_bar(cloud, capsys):
    sampler = make_sampler("flow-matching", **{**TINY_FM, "progress": True})
    sampler.fit(cloud)
    assert "fit flow-matching" in capsys.readouterr().err
    assert sampler.fit_info_["device"] == str(pick_device("auto")) and sampler.fit_info_["n_parameters"] > 0


def test_groups_keep_a_point_and_its_twin_on_one_side_of_the_validation_split():
    """Rows sharing a group (a face and its mirror image) never straddle the split."""
    torch.manual_seed(0)
    n = 400
    points = torch.arange(2 * n, dtype=torch.float32)[:, None]
    groups = np.tile(np.arange(n), 2)
    validation, train = FlowMatchingSampler._validation_split(points, 80, groups)
    val_groups = set(groups[validation[:, 0].long().numpy()])
    train_groups = set(groups[train[:, 0].long().numpy()])
    assert not val_groups & train_groups and len(val_groups) == 40
    assert validation.shape[0] == 80 and validation.shape[0] + train.shape[0] == 2 * n


def test_fit_with_groups_records_the_split_and_checks_the_labels(cloud):
    sampler = _make("flow-matching", validation_fraction=0.2)
    sampler.fit(np.concatenate([cloud, cloud]), groups=np.tile(np.arange(len(cloud)), 2))
    assert sampler.fit_info_["n_validation"] == 600 and sampler.fit_info_["n_train"] == 2400
    assert not hasattr(sampler, "_groups")
    with pytest.raises(ValueError, match="groups must be"):
        _make("flow-matching").fit(cloud, groups=np.zeros(10, dtype=int))
    with pytest.raises(ValueError, match="groups must be"):
        _make("flow-matching").fit(cloud, groups=np.zeros(len(cloud)))


@pytest.mark.parametrize("kind", ["flow", "flow-matching"])
def test_n_components_models_the_leading_axes_and_leaves_the_rest_gaussian(kind, cloud, tmp_path):
    """Beyond the network's k axes the whitened coordinates are N(0, t^2): in samples and in log_prob."""
    sampler = _make(kind, n_components=3, temperature=0.8).fit(cloud)
    assert sampler.fit_info_["n_parameters"] < _make(kind).fit(cloud).fit_info_["n_parameters"]
    V = sampler.sample(4000, random_state=0)
    tail = sampler._whiten(V)[:, 3:]
    np.testing.assert_allclose(tail.std(axis=0), 0.8, rtol=0.06)
    assert abs(np.corrcoef(tail[:, 0], sampler._whiten(V)[:, 0])[0, 1]) < 0.06
    loaded = load_sampler(sampler.save(tmp_path / kind))
    np.testing.assert_array_equal(loaded.sample(20, random_state=1), sampler.sample(20, random_state=1))
    if kind == "flow":
        W = sampler._whiten(cloud[:5])
        moved = W.copy()
        moved[:, 4] += 1.0  # a step along a Gaussian axis changes log p by the normal's log-ratio
        Z_moved = sampler._from_model(moved)
        expected = -0.5 * (moved[:, 4] ** 2 - W[:, 4] ** 2) / 0.8**2
        np.testing.assert_allclose(sampler.log_prob(Z_moved) - sampler.log_prob(cloud[:5]), expected, atol=1e-4)
        np.testing.assert_allclose(loaded.log_prob(cloud[:5]), sampler.log_prob(cloud[:5]))
    with pytest.raises(ValueError, match="n_components"):
        _make(kind, n_components=7).fit(cloud)
    with pytest.raises(ValueError, match="n_components"):
        _make(kind, n_components=1).fit(cloud)


def _three_clusters(n: int, seed: int) -> np.ndarray:
    """Three well-separated elongated clusters in 6 dimensions (n, 6)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).normal(size=(3, 6)) * 4.0
    return centres[rng.integers(0, 3, n)] + rng.normal(size=(n, 6)) * np.array([1.0, 0.5, 1.0, 0.5, 1.0, 0.5])


def test_mixture_base_starts_as_the_mixture_and_keeps_an_exact_density(zuko, tmp_path):
    """With base="gmm" an untrained flow is the fitted mixture; the trained one still integrates its samples' law."""
    from aegen.samplers import GMMSampler
    from aegen.samplers.gmm import mixture_log_density

    train, heldout = _three_clusters(3000, 1), _three_clusters(1000, 2)
    flow = FlowSampler(**{**TINY_FLOW, "epochs": 4, "hidden_features": 32, "base": "gmm", "base_components": 3}).fit(train)
    # The base in whitened coordinates, pulled back to z-space by the whitening's log |det|, is
    # a mixture of three normals fitted to the training side of the split: close to a GMM on all points.
    W, log_det = flow._to_model(heldout)
    base_only = mixture_log_density(W, flow.base_weights_, flow.base_means_, flow.base_cholesky_) + log_det
    gmm = GMMSampler(n_components=3).fit(train)
    assert abs(base_only.mean() - gmm.log_prob(heldout).mean()) < 0.05 * heldout.shape[1]
    # The flow keeps (nearly) the mixture's held-out likelihood and far beats a normal-base flow of the same size.
    normal = FlowSampler(**{**TINY_FLOW, "epochs": 4, "hidden_features": 32}).fit(train)
    assert flow.log_prob(heldout).mean() > base_only.mean() - 0.05 * heldout.shape[1]
    assert flow.log_prob(heldout).mean() > normal.log_prob(heldout).mean() + 0.5
    # Samples land in the clusters: each one near one of the three centres.
    samples = flow.sample(600, random_state=0)
    nearest = np.linalg.norm(samples[:, None, :] - gmm.means_[None], axis=-1).min(axis=1)
    assert np.median(nearest) < 3.0
    # Deterministic, and a save/load round trip keeps samples and density exactly.
    np.testing.assert_array_equal(flow.sample(50, random_state=3), flow.sample(50, random_state=3))
    loaded = load_sampler(flow.save(tmp_path / "gmm-flow"))
    np.testing.assert_array_equal(loaded.sample(50, random_state=3), flow.sample(50, random_state=3))
    np.testing.assert_allclose(loaded.log_prob(heldout), flow.log_prob(heldout), rtol=0, atol=1e-9)


def test_mixture_base_density_integrates_to_one_at_every_temperature(zuko):
    """A 2-D mixture-base flow: exp(log_prob) sums to 1 (to 2%) on a grid, at temperatures 1 and 0.7."""
    rng = np.random.default_rng(4)
    Z = np.concatenate([rng.normal(size=(800, 2)) * 0.4 - 1.5, rng.normal(size=(800, 2)) * [0.6, 0.3] + 1.5])
    flow = FlowSampler(**{**TINY_FLOW, "epochs": 3, "base": "gmm", "base_components": 2}).fit(Z)
    for temperature in (1.0, 0.7):
        flow.temperature = temperature
        assert mass_on_grid(flow, 6.0, 161) == pytest.approx(1.0, abs=0.02)
