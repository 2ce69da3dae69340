"""End-to-end command line: train and encode a tiny run, and one-line errors."""

import numpy as np
import pytest

from aegen.cli import main

TINY = ["--image-size", "32", "--z-dim", "16", "--channels", "8,8,16,16", "--batch-size", "16"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--data", "synthetic:n=48", "--epochs", "1", "--out", str(out), *TINY]) == 0
    assert main(["encode", str(out)]) == 0
    return out


def test_train_and_encode_write_the_run(tiny_run):
    for name in ("config.json", "split.npz", "train_log.csv", "recon_grid.png", "checkpoints/last.safetensors",
                 "zpoints/train.npy", "zpoints/heldout.npy", "zpoints/train_ids.npy", "zpoints/train_attrs.npy"):
        assert (tiny_run / name).is_file(), name
    Z = np.load(tiny_run / "zpoints" / "train.npy")
    heldout = np.load(tiny_run / "zpoints" / "heldout.npy")
    assert Z.shape[1] == 16 and len(Z) + len(heldout) == 48 and np.isfinite(Z).all()
    assert len(np.load(tiny_run / "zpoints" / "train_attrs.npy")) == len(Z)


def _one_line_error(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err, err


def test_user_errors_are_one_line(tmp_path, capsys, tiny_run):
    _one_line_error(capsys, ["train", "--data", f"folder:{tmp_path / 'missing'}", "--out", str(tmp_path / "r")],
                    "no such file or folder")
    (tmp_path / "empty").mkdir()
    _one_line_error(capsys, ["train", "--data", f"folder:{tmp_path / 'empty'}", "--out", str(tmp_path / "r")], "no images")
    _one_line_error(capsys, ["encode", str(tmp_path / "nope")], "no such run folder")
    _one_line_error(capsys, ["train", "--data", "synthetic:n=48", "--out", str(tiny_run), *TINY], "already holds")
    _one_line_error(capsys, ["train", "--data", "synthetic:n=48", "--out", str(tmp_path / "r2"), "--channels", "8,8"],
                    "4 widths")
