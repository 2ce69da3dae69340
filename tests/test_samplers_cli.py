"""``aegen sample`` and ``sample_run`` on a copy of the session's tiny run."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from aegen.cli import main
from aegen.sample import sample_run
from aegen.samplers.registry import SAMPLERS
from conftest import TINY_Z_DIM as Z_DIM


@pytest.fixture(scope="module")
def tiny_run(tiny_run_template, tmp_path_factory):
    """One copy of the session's run for this module: its tests add samples and cached samplers."""
    return shutil.copytree(tiny_run_template, tmp_path_factory.mktemp("sample_cli") / "run")


def test_sample_writes_vectors_grid_params_and_figures(tiny_run, capsys):
    assert main(["sample", str(tiny_run), "--method", "ellipse-pca", "--n-components", "6", "--fact", "0.6",
                 "--n", "80", "--seed", "3"]) == 0
    out = tiny_run / "samples" / "ellipse-pca"
    assert str(out) in capsys.readouterr().out
    Z = np.load(out / "z.npy")
    assert Z.shape == (80, Z_DIM) and Z.dtype == np.float32
    grid = np.asarray(Image.open(out / "grid.png"))
    assert grid.shape[0] == grid.shape[1] == 2 * (8 * (32 + 2) + 2)  # 8 x 8 faces, scale 2
    meta = json.loads((out / "params.json").read_text())
    assert meta["method"] == "ellipse-pca" and meta["n"] == 80 and meta["seed"] == 3
    assert meta["params"]["n_components"] == 6 and meta["params"]["fact"] == 0.6
    assert meta["fit"]["cache_hit"] is False and meta["fit"]["n_zpoints"] == np.load(
        tiny_run / "zpoints" / "train.npy").shape[0]
    for name in ("pca_plane.png", "pca_pairs.png", "latent_pairs.png"):
        assert (out / name).stat().st_size > 10_000
    assert set(meta["timings_s"]) >= {"fit", "sample", "decode", "figures"}


def test_cached_sampler_is_reused_and_seed_matters(tiny_run):
    args = ["sample", str(tiny_run), "--method", "gaussian", "--n", "30", "--no-figures"]
    assert main(args + ["--seed", "1"]) == 0
    first = np.load(tiny_run / "samples" / "gaussian" / "z.npy")
    assert main(args + ["--seed", "1"]) == 0
    meta = json.loads((tiny_run / "samples" / "gaussian" / "params.json").read_text())
    assert meta["fit"]["cache_hit"] is True
    np.testing.assert_array_equal(np.load(tiny_run / "samples" / "gaussian" / "z.npy"), first)
    assert main(args + ["--seed", "2"]) == 0
    assert not np.array_equal(np.load(tiny_run / "samples" / "gaussian" / "z.npy"), first)
    assert len(list((tiny_run / "samplers").glob("gaussian-*"))) == 1


def test_where_fits_on_matching_zpoints(tiny_run):
    meta = json.loads((tiny_run / "zpoints" / "attr_names.json").read_text())
    attrs = np.load(tiny_run / "zpoints" / "train_attrs.npy")
    name = meta[0]
    out = sample_run(tiny_run, "diag-gaussian", 20, seed=0, params={}, where=f"{name}=1", figures=False)
    assert out.name == f"diag-gaussian-{name}+"
    info = json.loads((out / "params.json").read_text())
    assert info["where"] == {name: 1}
    assert info["fit"]["n_zpoints"] == int((attrs[:, 0] == 1).sum())


@pytest.mark.parametrize("value, same_as", [("true", "1"), ("+1", "1"), ("0", "-1"), ("FALSE", "-1")])
def test_where_reads_the_same_values_as_aegen_attributes(tiny_run, value, same_as):
    from aegen.conditions import parse_where

    name = json.loads((tiny_run / "zpoints" / "attr_names.json").read_text())[1]
    expected = {name: int(same_as)}
    assert parse_where(f"{name}={value}") == expected == parse_where({name: value})
    out = sample_run(tiny_run, "diag-gaussian", 5, seed=0, where=f"{name}={value}", figures=False, progress=False)
    assert json.loads((out / "params.json").read_text())["where"] == expected
    assert out.name == f"diag-gaussian-{name}{'+' if int(same_as) > 0 else '-'}"


def test_param_maps_dashes_to_underscores(tiny_run):
    assert main(["sample", str(tiny_run), "--method", "gaussian", "--n", "3", "--no-figures", "--out-name", "dash",
                 "--param", "reg-covar=0.001"]) == 0
    assert json.loads((tiny_run / "samples" / "dash" / "params.json").read_text())["params"]["reg_covar"] == 0.001


def test_the_old_import_path_still_samples_with_a_deprecation_warning(tiny_run):
    import importlib
    import sys

    sys.modules.pop("aegen.samplers.pipeline", None)
    with pytest.warns(DeprecationWarning, match="moved to aegen.sample"):
        pipeline = importlib.import_module("aegen.samplers.pipeline")

    assert pipeline.sample_run is sample_run and pipeline.fitted_sampler.__module__ == "aegen.sample"


# Small settings for the methods whose defaults take long on any data.
FAST_PARAMS = {"gmm": {"n_components": 2}, "ellipse-pca": {"n_components": 4}, "ellipsoid": {"n_components": 4},
               "flow": {"transforms": 1, "hidden_features": 8, "epochs": 1, "progress": False},
               "flow-matching": {"width": 8, "blocks": 1, "epochs": 1, "steps": 2, "progress": False}}


def test_python_api_out_name_and_all_methods(tiny_run):
    for method in SAMPLERS:
        out = sample_run(tiny_run, method, 10, seed=0, params=FAST_PARAMS.get(method, {}), figures=False,
                         out_name=f"api-{method}", progress=False)
        assert np.load(out / "z.npy").shape == (10, Z_DIM)


@pytest.mark.parametrize("extra, message", [
    (["--method", "gaussian", "--n", "0"], "--n must be at least 1"),
    (["--method", "ellipse-pca", "--fact", "2"], "fact must be in (0, 1]"),
    (["--method", "gaussian", "--fact", "0.5"], "--fact applies to ellipse-pca"),
    (["--method", "gaussian", "--where", "Nope=1"], "unknown attribute 'Nope'"),
    (["--method", "gaussian", "--where", "Smiling=yes"], "must be 1 or -1"),
    (["--method", "gaussian", "--param", "bogus"], "--param expects KEY=VALUE"),
    (["--method", "gaussian", "--param", "reg-covar=1", "--param", "reg_covar=2"], "--param reg_covar given twice"),
    (["--method", "gaussian", "--param", "fact=0.5"], "unknown parameter(s) for gaussian: fact"),
])
def test_errors_are_one_line(tiny_run, capsys, extra, message):
    assert main(["sample", str(tiny_run), "--no-figures"] + extra) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_where_without_a_match(tiny_run, capsys):
    attrs = np.load(tiny_run / "zpoints" / "train_attrs.npy")
    names = json.loads((tiny_run / "zpoints" / "attr_names.json").read_text())
    # Ask for a combination no training image has (or every attribute at once).
    rows = {tuple(r) for r in attrs.tolist()}
    combo = next(c for c in ([1] * len(names), [-1] * len(names)) if tuple(c) not in rows)
    where = ",".join(f"{n}={v}" for n, v in zip(names, combo))
    assert main(["sample", str(tiny_run), "--method", "gaussian", "--where", where, "--no-figures"]) == 2
    assert "no training z-point matches" in capsys.readouterr().err


def test_mirrored_zpoints_extend_the_fit_and_a_plain_encode_removes_them(tiny_run, capsys):
    """`aegen encode --mirrored` then fit_on=train+mirrored: twice the points, the mirror images' codes."""
    from aegen.run import Run
    from aegen.sample import fitted_sampler

    with pytest.raises(Exception, match="--mirrored"):
        fitted_sampler(tiny_run, "gaussian", {"fit_on": "train+mirrored"}, progress=False)
    assert main(["encode", str(tiny_run), "--mirrored"]) == 0
    assert "mirrored training" in capsys.readouterr().out
    run = Run.open(tiny_run)
    train, mirrored = np.asarray(run.zpoints("train")), np.asarray(run.mirrored_zpoints())
    assert mirrored.shape == train.shape and not np.allclose(mirrored, train)
    flipped = np.ascontiguousarray(np.asarray(run.images("train"))[:3, :, ::-1])
    np.testing.assert_allclose(mirrored[:3], run.encode_images(flipped, progress=False), rtol=1e-4, atol=1e-5)

    plain, info = fitted_sampler(tiny_run, "gaussian", {}, progress=False)
    both, info_both = fitted_sampler(tiny_run, "gaussian", {"fit_on": "train+mirrored"}, progress=False)
    assert info["fit_on"] == "train" and info_both["fit_on"] == "train+mirrored"
    assert info_both["cache"] != info["cache"] and info_both["n_zpoints"] == 2 * len(train)
    np.testing.assert_allclose(both.mean_, np.concatenate([train, mirrored]).mean(axis=0), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="fit_on must be one of"):
        fitted_sampler(tiny_run, "gaussian", {"fit_on": "heldout"}, progress=False)

    assert main(["encode", str(tiny_run)]) == 0  # a new encoding: the mirrored file would be stale
    assert not (tiny_run / "zpoints" / "train_mirrored.npy").exists()


def test_one_fit_serves_every_temperature_of_a_learned_prior(tiny_run):
    """temperature is read only when sampling: the cached fit is reused, a bad value still refused."""
    from aegen.sample import fitted_sampler

    pytest.importorskip("zuko")
    tiny = {"transforms": 1, "hidden_features": 8, "epochs": 1, "progress": False}
    first, info = fitted_sampler(tiny_run, "flow", tiny, progress=False)
    warm, info_warm = fitted_sampler(tiny_run, "flow", {**tiny, "temperature": 0.7}, progress=False)
    assert info_warm["cache_hit"] and info_warm["cache"] == info["cache"] and warm.temperature == 0.7
    assert warm.sample(500, random_state=0).std() < first.sample(500, random_state=0).std()
    with pytest.raises(ValueError, match="temperature"):
        fitted_sampler(tiny_run, "flow", {**tiny, "temperature": -1.0}, progress=False)
    _, other = fitted_sampler(tiny_run, "flow", {**tiny, "epochs": 2}, progress=False)
    assert other["cache"] != info["cache"]


@pytest.mark.parametrize("method", ["ellipse-pca", "ellipsoid"])
def test_the_seed_family_default_axes_fit_a_latent_smaller_than_100(tiny_run, method):
    """The default 100 axes (the seed's, of 256) become every axis of a smaller z (z 16 here; 64 under
    --preset samplable) instead of an error; an explicit n_components is kept, and refused above z."""
    out = sample_run(tiny_run, method, 8, 0, figures=False, progress=False)
    recorded = json.loads((out / "params.json").read_text())
    assert recorded["params"]["n_components"] == Z_DIM, recorded
    explicit = sample_run(tiny_run, method, 8, 0, params={"n_components": 5}, figures=False, progress=False,
                          out_name=f"{method}-5")
    assert json.loads((explicit / "params.json").read_text())["params"]["n_components"] == 5
    with pytest.raises(ValueError, match=f"n_components must be in 1..{Z_DIM}"):
        sample_run(tiny_run, method, 8, 0, params={"n_components": Z_DIM + 1}, figures=False, progress=False)
