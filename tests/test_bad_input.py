"""Bad input through the command line: each case is a one-line error (exit 2) or a counted
skip, never a traceback. The loaders' own behaviour is tested in test_data.py; here the
same inputs go through ``aegen ...`` as a user would type it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aegen.checkpoint import save_checkpoint
from aegen.model import ConvAutoencoder, ModelConfig
from aegen.samplers import make_sampler
from conftest import TINY_FLAGS, TINY_RUN_FLAGS, TINY_Z_DIM, jpeg_bytes, write_celeba_layout
from test_reliability import assert_user_error, cli

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _train(capsys, data: str, out: Path, *extra: str) -> tuple[int, str, str]:
    return cli(capsys, "train", "--data", data, *TINY_FLAGS, "--epochs", "1", "--out", out, *extra)


# -- data ---------------------------------------------------------------------------------
def _bad_source(root: Path, case: str) -> str:
    """A ``--data`` spec for one kind of unusable input, built under ``root``."""
    folder = root / case
    if case in ("missing-folder", "missing-celeba"):
        return {"missing-folder": "folder:", "missing-celeba": "celeba:"}[case] + str(folder / "nowhere")
    folder.mkdir()
    if case == "text-files":
        (folder / "notes.txt").write_text("hello")
    elif case == "fake-images":
        for i in range(1, 4):
            (folder / f"{i}.jpg").write_bytes(b"not a jpeg " * i)
    elif case == "broken-zip":
        (folder / "img_align_celeba.zip").write_bytes(b"PK\x03\x04 broken")
        return f"celeba:{folder / 'img_align_celeba.zip'}"
    return f"folder:{folder}"


@pytest.mark.parametrize("case, fragment", [
    ("missing-folder", "no such file or folder"),
    ("missing-celeba", "no such file or folder"),
    ("empty", "no images"),
    ("text-files", "no images"),
    ("fake-images", "no usable images"),
    ("broken-zip", "cannot read zip"),
])
def test_unusable_data_is_one_line(tmp_path, capsys, case, fragment):
    code, _, err = _train(capsys, _bad_source(tmp_path, case), tmp_path / "run")
    assert_user_error(code, err, "train", fragment)
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.parametrize("spec, fragment", [
    ("pictures:/tmp", "unknown data spec"),
    ("synthetic:n=0", "at least 1"),
    ("synthetic:size=3", "bad synthetic option"),
    ("synthetic:blur=-0.5", "bad synthetic option"),
    ("synthetic:blur=soft", "bad synthetic option"),
    ("synthetic:blur=nan", "bad synthetic option"),
])
def test_malformed_data_spec_is_one_line(tmp_path, capsys, spec, fragment):
    code, _, err = _train(capsys, spec, tmp_path / "run")
    assert_user_error(code, err, "train", fragment)


def test_odd_images_among_good_ones_are_converted_or_counted(tmp_path, capsys):
    rng = np.random.default_rng(4)
    root = tmp_path / "faces"
    root.mkdir()
    for i in range(6):
        (root / f"good{i}.jpg").write_bytes(jpeg_bytes(rng, (48, 56)))
    Image.fromarray(rng.integers(0, 255, (40, 40), dtype=np.uint8), mode="L").save(root / "gray.png")
    Image.fromarray(rng.integers(0, 255, (40, 40, 4), dtype=np.uint8), mode="RGBA").save(root / "rgba.png")
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).convert("CMYK").save(root / "cmyk.jpg")
    Image.fromarray(rng.integers(0, 65535, (40, 40), dtype=np.uint16)).save(root / "deep16.png")
    Image.fromarray(rng.integers(0, 255, (5, 5, 3), dtype=np.uint8)).save(root / "tiny.png")
    (root / "truncated.jpg").write_bytes(jpeg_bytes(rng, (48, 56))[:300])
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(rng.integers(0, 255, 200, dtype=np.uint8)))
    (root / "readme.txt").write_text("not an image, not counted")

    code, out, err = _train(capsys, f"folder:{root}", tmp_path / "run")
    assert code == 0, err
    data = json.loads((tmp_path / "run" / "config.json").read_text())["data"]
    assert data["n_images"] == 10 and data["n_skipped"] == 3  # 6 good + 4 converted, 3 unusable
    assert "Traceback" not in err


def test_attribute_file_with_missing_or_extra_row_is_one_line(tmp_path, capsys):
    zipped = write_celeba_layout(tmp_path / "celeba", n=8, n_people=4)
    attr = tmp_path / "celeba" / "list_attr_celeba.txt"
    lines = attr.read_text().splitlines()
    for text, fragment in [
        ("\n".join(lines[:-1]), "declares 8 rows but the file has 7"),
        ("\n".join(lines + ["000099.jpg  1 -1  1"]), "declares 8 rows but the file has 9"),
        ("\n".join(lines[:4] + ["000003.jpg 1 2 1"] + lines[5:]), "must be -1 or 1"),
    ]:
        attr.write_text(text + "\n")
        code, _, err = _train(capsys, f"celeba:{zipped}", tmp_path / "run")
        assert_user_error(code, err, "train", "list_attr_celeba.txt", fragment)
    attr.write_bytes(b"\xff\xfe\x00 not text")
    code, _, err = _train(capsys, f"celeba:{zipped}", tmp_path / "run")
    assert_user_error(code, err, "train", "not a text file")


# -- checkpoints and run folders ------------------------------------------------------------
@pytest.mark.parametrize("other, fragment", [
    (dict(image_size=32, z_dim=32, channels=(8, 8, 16, 16)), "another z_dim"),
    (dict(image_size=64, z_dim=16, channels=(8, 8, 16, 16)), "another z_dim, image size"),
])
def test_checkpoint_of_another_model_is_one_line(tiny_run, capsys, other, fragment):
    save_checkpoint(tiny_run / "checkpoints" / "last.safetensors", ConvAutoencoder(ModelConfig(**other)), None, epoch=1)
    for command in (["encode", tiny_run], ["sample", tiny_run, "--method", "gaussian", "--n", "2", "--no-figures"]):
        code, _, err = cli(capsys, *command)
        assert_user_error(code, err, command[0], "does not fit this model", fragment)


def test_resume_with_another_z_dim_is_one_line(tiny_run, capsys):
    at = TINY_RUN_FLAGS.index("--z-dim") + 1
    flags = TINY_RUN_FLAGS[:at] + [str(2 * TINY_Z_DIM)] + TINY_RUN_FLAGS[at + 1:]
    code, _, err = cli(capsys, "train", *flags, "--epochs", "2", "--out", tiny_run, "--resume")
    assert_user_error(code, err, "train", "--resume with a different z_dim")


@pytest.mark.parametrize("config, fragment", [
    ({"format_version": 999}, "incompatible"),
    ([1, 2, 3], "incompatible"),
    (None, "not an aegen run"),
])
def test_run_folder_of_another_version_is_one_line(tiny_run, capsys, config, fragment):
    if config is None:
        (tiny_run / "config.json").unlink()
    else:
        (tiny_run / "config.json").write_text(json.dumps(config))
    commands = [["encode", tiny_run], ["analyze", tiny_run], ["sample", tiny_run, "--method", "gaussian", "--n", "2"]]
    for command in commands:
        code, _, err = cli(capsys, *command)
        assert_user_error(code, err, command[0], fragment)


def test_run_folder_with_incomplete_config_is_one_line(tiny_run, capsys):
    config = json.loads((tiny_run / "config.json").read_text())
    del config["model"]
    (tiny_run / "config.json").write_text(json.dumps(config))
    for command in (["encode", tiny_run], ["sample", tiny_run, "--method", "gaussian", "--n", "2"]):
        code, _, err = cli(capsys, *command)
        assert_user_error(code, err, command[0], "config.json")


# -- z-points and samplers ------------------------------------------------------------------
def _poison(run_dir: Path, value: float) -> None:
    path = run_dir / "zpoints" / "train.npy"
    Z = np.load(path)
    Z[3, 2] = value
    np.save(path, Z)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_zpoints_is_one_line(tiny_run, capsys, value):
    _poison(tiny_run, value)
    code, _, err = cli(capsys, "analyze", tiny_run, "--max-points", "30")
    assert_user_error(code, err, "analyze", "NaN or Inf")
    code, _, err = cli(capsys, "sample", tiny_run, "--method", "gaussian", "--n", "2", "--no-figures")
    assert_user_error(code, err, "sample", "NaN or Inf")


@pytest.mark.parametrize("args, fragment", [
    (["--method", "ellipse-pca", "--fact", "1.5"], "fact must be in (0, 1]"),
    (["--method", "ellipse-pca", "--fact", "0"], "fact must be in (0, 1]"),
    (["--method", "ellipse-pca", "--n-components", "0"], "n_components"),
    (["--method", "ellipse-pca", "--n-components", "500"], f"n_components must be in 1..{TINY_Z_DIM}"),
    (["--method", "ellipse-pca", "--fit-sigma", "-1"], "fit_sigma"),
    (["--method", "ellipse-pca", "--width", "wide"], "width must be"),
    (["--method", "uniform", "--b", "-1"], "b must be in"),
    (["--method", "uniform", "--fact", "0.5"], "--fact applies to ellipse-pca"),
    (["--method", "truncated-gaussian", "--sigma", "inf"], "sigma must be a finite number"),
    (["--method", "gmm", "--n-components", "0"], "n_components must be >= 1"),
    (["--method", "gmm", "--n-components", "many"], "n_components must be an integer"),
    (["--method", "gaussian", "--param", "reg_covar=-1"], "reg_covar"),
    (["--method", "gaussian", "--param", "nonsense=1"], "unknown parameter"),
    (["--method", "gaussian", "--n", "0"], "--n must be at least 1"),
    (["--method", "gaussian", "--n", "-3"], "--n must be at least 1"),
    (["--method", "gaussian", "--where", "Smiling=2"], "must be 1 or -1"),
    (["--method", "gaussian", "--where", "No_Such_Attribute=1"], "unknown attribute"),
])
def test_bad_sampler_parameters_are_one_line(tiny_run, capsys, args, fragment):
    code, _, err = cli(capsys, "sample", tiny_run, *args, "--no-figures")
    assert_user_error(code, err, "sample", fragment)
    assert not (tiny_run / "samples").exists()


def test_unknown_method_is_a_usage_error(tiny_run, capsys):
    code, _, err = cli(capsys, "sample", tiny_run, "--method", "ellipse-magic")
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1].startswith("aegen sample: error: argument --method: invalid choice: 'ellipse-magic'")


def test_python_api_raises_value_error_for_bad_parameters():
    with pytest.raises(ValueError, match="unknown sampling method"):
        make_sampler("ellipse-magic")
    with pytest.raises(ValueError, match="fact"):
        make_sampler("ellipse-pca", fact=2.0).fit(np.random.default_rng(0).normal(size=(50, 4)))
    fitted = make_sampler("gaussian").fit(np.random.default_rng(0).normal(size=(50, 4)))
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        fitted.sample(0)
