"""analyze_zpoints end to end, and the ``aegen analyze`` command."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from aegen import RUN_FORMAT_VERSION
from aegen.cli import main
from aegen.io import save_npy, write_json
from aegen.latent import analyze_zpoints

FIGURES = {"component_histograms", "component_moments", "component_normality", "location", "correlation",
           "pca_variance", "pca_fwhm", "mahalanobis_qq"}


def strict_json(path):
    def refuse(token):
        raise AssertionError(f"non-standard JSON token {token} in {path}")

    return json.loads(path.read_text(), parse_constant=refuse)


def known_cloud(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Normal cloud with principal stds 2 ... 0.1 along random axes, centred at (1, ..., 1)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return ((rng.standard_normal((n, d)) * np.geomspace(2.0, 0.1, d)) @ q.T + 1.0).astype(np.float32)


def zpoint_folder(run: Path, Z: np.ndarray) -> Path:
    """A run folder holding only what ``aegen analyze`` reads: config.json and the train z-points ``Z``."""
    write_json(run / "config.json", {"format_version": RUN_FORMAT_VERSION,
                                     "model": {"z_dim": Z.shape[1], "image_size": 32},
                                     "data": {"spec": f"synthetic:n={len(Z)}", "image_size": 32, "limit": None,
                                              "n_images": len(Z)},
                                     "train": {}})
    save_npy(run / "zpoints" / "train.npy", Z)
    return run


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """The known cloud analysed once, by the command (whose own test reads the same output): (Z, the
    analysis folder, its summary, what the command printed)."""
    Z = known_cloud(4000, 12)
    run = zpoint_folder(tmp_path_factory.mktemp("analysis") / "run", Z)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["analyze", str(run), "--pairs", "0,1", "2,5", "--sigma", "1,2", "--test-points", "800",
                     "--seed", "3"]) == 0
    out = run / "analysis"
    return Z, out, strict_json(out / "summary.json"), printed.getvalue()


def test_analysis_writes_every_figure_and_a_strict_json_summary(analysed):
    Z, out, summary, _ = analysed
    assert set(summary["figures"]) == FIGURES | {"pair_0_1", "pair_2_5"}
    for name in summary["figures"].values():
        assert (out / name).stat().st_size > 10_000, name
    assert strict_json(out / "summary.json") == summary
    assert summary["skipped"] == {}
    assert summary["n_points"] == 4000 and summary["dim"] == 12 and summary["random_state"] == 3
    corr = np.load(out / "correlation.npy", allow_pickle=False)
    assert corr.shape == (12, 12) and np.allclose(np.diag(corr), 1.0)


def test_summary_numbers_match_the_known_cloud(analysed):
    Z, _, s, _ = analysed
    stds = np.geomspace(2.0, 0.1, 12)
    ratio = np.cumsum(stds**2) / np.sum(stds**2)
    assert s["pca"]["n_components_90"] == int(np.searchsorted(ratio, 0.90) + 1)
    assert s["pca"]["n_components_99"] == int(np.searchsorted(ratio, 0.99) + 1)
    assert np.allclose(s["components"]["mean"], Z.astype(np.float64).mean(axis=0), atol=1e-6)
    assert s["location"]["centre_norm"] == pytest.approx(np.sqrt(12), abs=0.1)
    beyond = {row["sigma"]: row for row in s["normality"]["fraction_beyond"]}
    assert beyond[2.0]["fraction_beyond"] == pytest.approx(0.0455, abs=0.012)
    assert s["normality"]["core"]["fraction"] == pytest.approx(0.9973, abs=0.003)
    for pair in s["pairs"]:
        assert pair["misalignment_deg"]["pca"] < 1e-6
        assert pair["pca"]["contours"]["n_closed_levels"] >= 3
    tests = s["normality"]["tests"]
    assert tests["all"]["mardia_skewness"]["n"] == 800
    assert tests["all"]["mardia_kurtosis"]["n"] == 4000
    assert tests["all"]["henze_zirkler"]["p_value"] > 0.01
    assert s["component_normality"]["all"]["n"] == 800
    assert len(s["pca"]["fwhm"]["histogram_fwhm"]) == 12


def test_subsampling_is_seeded_and_recorded(tmp_path):
    Z = known_cloud(3000, 6, seed=1)
    kwargs = dict(max_points=500, test_points=200, scatter_points=300, figures=False, progress=False)
    a = analyze_zpoints(Z, tmp_path / "a", random_state=7, **kwargs)
    b = analyze_zpoints(Z, tmp_path / "b", random_state=7, **kwargs)
    c = analyze_zpoints(Z, tmp_path / "c", random_state=8, **kwargs)
    assert a["n_points"] == 500 and a["n_points_total"] == 3000
    assert a["subsample"] == {"analysed": True, "n_points": 500, "of": 3000, "seed": 7}
    assert a["components"]["mean"] == b["components"]["mean"] != c["components"]["mean"]
    assert a["normality"]["tests"] == b["normality"]["tests"]
    assert a["figures"] == {} and not list((tmp_path / "a").glob("*.png"))


def test_nan_rows_are_a_clear_error(tmp_path):
    Z = known_cloud(300, 4)
    Z[[5, 17], 1] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf in 2 of 300 rows"):
        analyze_zpoints(Z, tmp_path, progress=False)
    with pytest.raises(ValueError, match="NaN or Inf in 2 of 300 rows"):
        analyze_zpoints(Z, tmp_path, max_points=100, progress=False)


def test_too_few_points_skip_statistics_with_reasons(tmp_path):
    s = analyze_zpoints(known_cloud(60, 64), tmp_path, figures=False, progress=False)
    skipped = s["skipped"]
    assert "at least 66 points" in skipped["normality.tests.all.mardia_skewness"]
    assert "needs at least" in skipped["normality.tests.all.mardia_kurtosis"]
    assert "at least 200 points" in skipped["pairs[0].original.contours"]
    assert s["pca"]["rank"] == 59  # 60 points span 59 dimensions
    assert (tmp_path / "summary.json").is_file()
    one = analyze_zpoints(known_cloud(1, 8), tmp_path / "one", progress=False)
    assert "at least 2 points" in one["skipped"]["components"]
    assert one["figures"] == {} and strict_json(tmp_path / "one" / "summary.json")["n_points"] == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"pairs": [(0, 9)]}, "out of range"),
    ({"pairs": [(1, 1)]}, "two different"),
    ({"pairs": [(0,)]}, "two component indices"),
    ({"sigmas": (1, -2)}, "positive"),
    ({"max_points": 0}, "max_points"),
])
def test_bad_parameters(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        analyze_zpoints(known_cloud(50, 4), tmp_path, progress=False, **kwargs)


# -- the command ---------------------------------------------------------------------------------------

@pytest.fixture
def zpoint_run(tmp_path):
    return zpoint_folder(tmp_path / "run", known_cloud(1500, 8, seed=2))


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_cli_writes_the_analysis(analysed):
    _, out, summary, printed = analysed
    assert str(out) in printed and "numbers: " in printed
    assert summary["parameters"]["pairs_drawn"] == [[0, 1], [2, 5]]
    assert summary["parameters"]["sigmas"] == [1.0, 2.0] and summary["parameters"]["test_points"] == 800
    assert summary["n_points"] == 4000 and summary["random_state"] == 3 and summary["split"] == "train"
    assert (out / "pair_2_5.png").is_file()


def test_max_points_subsample_a_run_with_the_seed(zpoint_run):
    """max_points and the seed reach a run's analysis (the command passes every option: test_step_configs)."""
    from aegen.latent import analyze_run
    from aegen.run import Run

    summary = analyze_run(Run.open(zpoint_run), max_points=1000, random_state=4, test_points=300, figures=False,
                          progress=False)
    assert summary["n_points"] == 1000 and summary["subsample"]["seed"] == 4 and summary["figures"] == {}


@pytest.mark.parametrize("args, message", [
    (["--pairs", "0,8"], "out of range 0..7"),
    (["--pairs", "0-1"], "expected I,J"),
    (["--pairs", "2,2"], "same component"),
    (["--sigma", "1,x"], "--sigma"),
    (["--max-points", "0"], "--max-points"),
])
def test_cli_bad_arguments_are_one_line_errors(zpoint_run, capsys, args, message):
    assert main(["analyze", str(zpoint_run), *args]) == 2
    assert message in one_line_error(capsys)


def test_cli_missing_zpoints(tmp_path, capsys, zpoint_run):
    (zpoint_run / "zpoints" / "train.npy").unlink()
    assert main(["analyze", str(zpoint_run)]) == 2
    assert "aegen encode" in one_line_error(capsys)


@pytest.mark.slow
def test_cli_on_a_tiny_trained_run(tiny_run, capsys):
    run = tiny_run
    assert main(["analyze", str(run), "--pairs", "0,1"]) == 0
    summary = strict_json(run / "analysis" / "summary.json")
    assert summary["dim"] == 16 and summary["n_points"] >= 40
    assert summary["normality"]["tests"]["all"]["henze_zirkler"]["p_value"] is not None
    assert (run / "analysis" / "component_histograms.png").is_file()


def test_henze_zirkler_is_reported_only_where_it_is_calibrated(tmp_path):
    Z = known_cloud(1500, 24, seed=2)
    s = analyze_zpoints(Z, tmp_path / "a", random_state=0, max_points=1500, test_points=400, scatter_points=300,
                        figures=False, progress=False)
    tests = s["normality"]["tests"]
    assert "not calibrated at d = 24" in tests["all"]["henze_zirkler"]["skipped"]
    assert tests["all"]["henze_zirkler_leading_pca"]["components"] <= 20
    assert tests["all"]["henze_zirkler_leading_pca"]["p_value"] > 0.01
