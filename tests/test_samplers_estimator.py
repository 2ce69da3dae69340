"""The samplers as scikit-learn estimators, and the one home of z-point checks, seeds and moments."""

from __future__ import annotations

import ast
import copy
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from aegen import AegenError
from aegen.latent.checks import check_zpoints, resolve_random_state
from aegen.latent.moments import cloud_moments, mean_and_covariance
from aegen.samplers import SAMPLERS, GaussianSampler, GMMSampler, load_sampler, make_sampler

D = 5
CLASSICAL = [name for name in SAMPLERS if name not in ("flow", "flow-matching")]
QUICK = {"gmm": {"n_components": 2, "max_iter": 20}, "ellipse-pca": {"n_components": 3, "backend": "numpy"},
         "ellipsoid": {"n_components": 3}, "ellipse-original": {"backend": "numpy"}}
SAVED_V1 = Path(__file__).parent / "data" / "samplers_v1"
SAMPLERS_SRC = Path(__file__).parents[1] / "src" / "aegen" / "samplers"


@pytest.fixture(scope="module")
def cloud() -> np.ndarray:
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(D, D)) * np.linspace(1.0, 0.3, D)
    return (rng.normal(size=(600, D)) @ mixing.T + 0.5).astype(np.float32)


# -- scikit-learn's estimator API -----------------------------------------------------------------

@pytest.mark.parametrize("name", list(SAMPLERS))
def test_every_sampler_is_a_base_estimator_that_clones(name):
    klass = SAMPLERS[name]
    assert issubclass(klass, BaseEstimator)
    sampler = klass()
    twin = clone(sampler)  # clone checks that __init__ stores every parameter untouched
    assert type(twin) is klass and twin.get_params() == sampler.get_params()
    assert sampler.set_params() is sampler
    with pytest.raises(ValueError, match="Invalid parameter"):
        sampler.set_params(no_such_parameter=1)


@pytest.mark.parametrize("name", CLASSICAL)
def test_init_stores_bad_values_untouched_and_fit_refuses_them(name, cloud):
    klass = SAMPLERS[name]
    bad = {param: object() for param in klass().get_params()}
    sampler = klass(**bad)  # no check, no conversion in __init__
    assert all(sampler.get_params()[param] is value for param, value in bad.items())
    with pytest.raises(ValueError, match="must be"):
        sampler.fit(cloud)
    with pytest.raises(ValueError, match="must be"):
        sampler.check_params()


def test_repr_and_set_params_follow_scikit_learn(cloud):
    sampler = GaussianSampler(reg_covar=1e-3)
    assert repr(sampler) == "GaussianSampler(reg_covar=0.001)" and repr(GaussianSampler()) == "GaussianSampler()"
    fitted = make_sampler("ellipse-pca", **QUICK["ellipse-pca"]).fit(cloud)
    assert fitted.set_params(fact=0.5) is fitted and fitted.fact == 0.5
    fitted.set_params(fact=2.0)  # stored untouched, refused at the next fit
    with pytest.raises(ValueError, match="fact must be in"):
        fitted.fit(cloud)
    unfitted = GaussianSampler()
    with pytest.raises(Exception, match="not fitted"):
        check_is_fitted(unfitted)
    check_is_fitted(unfitted.fit(cloud))


def _fitted_state(sampler) -> dict:
    """Every attribute ending in ``_`` that can be compared (arrays, numbers, dicts, lists)."""
    state = {}
    for key, value in vars(sampler).items():
        if key.endswith("_") and not key.startswith("_") and isinstance(value, (np.ndarray, dict, list, int, float)):
            state[key] = copy.deepcopy(value)
    return state


@pytest.mark.parametrize("name", CLASSICAL)
def test_fit_returns_self_and_sample_leaves_the_fitted_state_alone(name, cloud):
    sampler = make_sampler(name, **QUICK.get(name, {}))
    assert sampler.fit(cloud) is sampler
    before = _fitted_state(sampler)
    sampler.sample(30, random_state=1)
    after = _fitted_state(sampler)
    assert before.keys() == after.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[key], value)
        else:
            assert after[key] == value, key
    assert sampler.last_sample_info["random_state"] == 1 and sampler.last_sample_info["n"] == 30


# -- one random-state rule -------------------------------------------------------------------------

def test_random_state_none_is_fresh_entropy_and_the_seed_is_reported(cloud):
    sampler = GaussianSampler().fit(cloud)
    first = sampler.sample(20)
    seed = sampler.last_sample_info["random_state"]
    second = sampler.sample(20)
    assert isinstance(seed, int) and seed != sampler.last_sample_info["random_state"]
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(sampler.sample(20, random_state=seed), first)  # the report repeats the draw


def test_a_generator_gives_a_drawn_seed_that_repeats_the_draw(cloud):
    sampler = GaussianSampler().fit(cloud)
    rng = np.random.default_rng(5)
    V = sampler.sample(20, random_state=rng)
    seed = sampler.last_sample_info["random_state"]
    assert seed == int(np.random.default_rng(5).integers(0, 2**63))  # one draw from the caller's generator
    np.testing.assert_array_equal(sampler.sample(20, random_state=seed), V)
    assert not np.array_equal(sampler.sample(20, random_state=rng), V)  # the generator moved on


def test_resolve_random_state_rule():
    rng, seed = resolve_random_state(3)
    assert seed == 3 and rng.integers(1 << 30) == np.random.default_rng(3).integers(1 << 30)
    assert resolve_random_state(np.int64(4))[1] == 4
    seeds = {resolve_random_state(None)[1] for _ in range(4)}
    assert len(seeds) == 4 and all(0 <= s < 2**63 for s in seeds)
    for bad in (-1, 1.5, 2.0, True, "3", [1]):
        with pytest.raises(ValueError, match="random_state must be an int >= 0, a numpy Generator or None"):
            resolve_random_state(bad)


# -- one z-point check, one chunked mean and covariance --------------------------------------------

def test_check_zpoints_one_rule():
    Z = np.zeros((3, 2))
    assert check_zpoints(Z) is Z
    np.testing.assert_array_equal(check_zpoints([[1, 2], [3, 4]]), [[1, 2], [3, 4]])
    for bad, message in [(np.zeros(4), "2-D"), (np.zeros((0, 3)), "empty"), (np.zeros((3, 0)), "empty"),
                         (np.zeros((3, 2), complex), "real numbers"), (np.zeros((3, 2), bool), "real numbers"),
                         ([["a", "b"]], "real numbers")]:
        with pytest.raises(ValueError, match=message):
            check_zpoints(bad)
    with pytest.raises(ValueError, match="too few points: Z have 3 rows, need at least 4"):
        check_zpoints(Z, name="Z", min_points=4)
    Z[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf in 1 of 3 rows"):
        check_zpoints(Z)
    assert check_zpoints(Z, check_finite=False) is Z


def test_mean_and_covariance_is_numpy_s_and_leaves_the_input_alone():
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(40_000, 4)) * [1.0, 2.0, 0.1, 5.0] + 1e4  # off-centre, more than two chunks
    original = Z.copy()
    mean, cov = mean_and_covariance(Z)
    np.testing.assert_allclose(mean, Z.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(Z, rowvar=False), rtol=1e-8)
    rows = np.sort(rng.choice(Z.shape[0], 500, replace=False))
    mean, cov = mean_and_covariance(Z, rows)
    np.testing.assert_allclose(cov, np.cov(Z[rows], rowvar=False), rtol=1e-8)
    full = cloud_moments(Z)
    np.testing.assert_allclose(full.cov, mean_and_covariance(Z)[1], rtol=1e-12)
    np.testing.assert_array_equal(Z, original)  # float64 input is never shifted in place
    with pytest.raises(ValueError, match="at least 2 points"):
        mean_and_covariance(Z, rows[:1])


# -- renamed parameters: gmm's k and k_grid --------------------------------------------------------

def test_gmm_k_is_now_n_components_and_the_old_names_still_work(cloud):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = GMMSampler(k=2, k_grid=[1, 2], max_iter=20)
    assert sorted(str(w.message).split(";")[0] for w in caught if w.category is DeprecationWarning) == [
        "gmm: parameter 'k' is now called 'n_components'", "gmm: parameter 'k_grid' is now called 'n_components_grid'"]
    assert old.n_components == 2 and old.n_components_grid == [1, 2] and "k" not in old.get_params()
    with pytest.warns(DeprecationWarning, match="'k' is now called"):
        made = make_sampler("gmm", k=2, max_iter=20)
    assert made.get_params() == GMMSampler(n_components=2, max_iter=20).get_params()
    with pytest.warns(DeprecationWarning):
        assert made.set_params(k=3).n_components == 3
    with pytest.raises(ValueError, match="give n_components only"):
        make_sampler("gmm", k=2, n_components=3)
    with pytest.raises(TypeError, match="unexpected keyword"):
        GMMSampler(colour=2)
    assert clone(old).get_params() == old.get_params()
    assert old.fit(cloud).n_components_ == 2 and old.fit_info_["n_components"] == 2


# -- samplers saved before this change -------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(p.name for p in SAVED_V1.iterdir() if p.is_dir()))
def test_samplers_saved_before_still_load_sample_and_refit_the_same(name, tmp_path):
    folder = shutil.copytree(SAVED_V1 / name, tmp_path / name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_sampler(folder)
    assert loaded.method == name
    renamed = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert bool(renamed) == (name == "gmm")  # gmm was saved with k and k_grid
    expected = np.load(folder / "expected_sample.npy")
    np.testing.assert_array_equal(loaded.sample(5, random_state=7), expected)
    refit = clone(loaded).fit(np.load(SAVED_V1 / "zpoints.npy"))
    for array in refit._state_shapes(refit.n_features_in_):
        np.testing.assert_allclose(getattr(refit, array), getattr(loaded, array), rtol=1e-7, atol=1e-9)
    # Saved again, it carries today's names; the state round-trips.
    again = load_sampler(loaded.save(tmp_path / "again"))
    params = json.loads((tmp_path / "again" / "params.json").read_text())["params"]
    assert "k" not in params and again.get_params() == loaded.get_params()


def test_a_hand_edited_saved_sampler_with_both_names_is_refused(tmp_path):
    folder = shutil.copytree(SAVED_V1 / "gmm", tmp_path / "gmm")
    meta = json.loads((folder / "params.json").read_text())
    meta["params"]["n_components"] = 2
    (folder / "params.json").write_text(json.dumps(meta))
    with pytest.raises(AegenError, match="give n_components only"):
        load_sampler(folder)


# -- no import cycle in aegen.samplers -------------------------------------------------------------

def _imports(path: Path, module_level_only: bool) -> set[str]:
    """The aegen.samplers submodules ``path`` imports (at module level only, or anywhere)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("aegen.samplers"):
            found.add(node.module)
            if node.module == "aegen.samplers":
                found.update(f"aegen.samplers.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("aegen.samplers"))
    return found


def test_samplers_submodules_import_without_a_cycle():
    modules = {f"aegen.samplers.{p.stem}": p for p in SAMPLERS_SRC.glob("*.py") if p.stem != "__init__"}
    graph = {name: _imports(path, module_level_only=True) & set(modules) for name, path in modules.items()}
    for name, path in modules.items():
        assert "aegen.samplers" not in _imports(path, module_level_only=True), f"{name} imports its own package"
    # Not even a deferred import leads from the base class back to the registry.
    assert not _imports(SAMPLERS_SRC / "base.py", module_level_only=False) & {"aegen.samplers.registry"}
    done, active = set(), []

    def visit(name):
        assert name not in active, f"import cycle: {' -> '.join(active[active.index(name):] + [name])}"
        if name in done:
            return
        active.append(name)
        for target in sorted(graph[name]):
            visit(target)
        active.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_parameter_checks_refuse_what_sklearns_check_scalar_lets_through():
    from aegen.samplers.base import check_int, check_number

    for bad in (True, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite number"):
            check_number("fact", bad, low=0.0, high=1.0)
    with pytest.raises(ValueError, match="integer"):
        check_int("n_components", True)
    assert check_number("fact", 1, low=0.0, high=1.0) == 1.0 and check_int("k", np.int64(3)) == 3
