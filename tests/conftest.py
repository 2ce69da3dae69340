"""Shared fixtures: one tiny trained run for the session, tiny data sets made inside the tests,
and the optional real CelebA."""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

# The models in the tests are tiny: one thread avoids OpenMP spin-waiting on a busy 2-core machine.
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED_CELEBA = REPO.parent / "shared" / "data" / "celeba"
ATTR_NAMES = ["Smiling", "Male", "Eyeglasses"]

# The session's tiny run: 64 synthetic faces at 32 px, z_dim 16, one epoch (a few seconds),
# 16 of them held out (enough for an evaluation at N = 8).
TINY_DATA = "synthetic:n=64,seed=1"
TINY_FLAGS = ["--image-size", "32", "--z-dim", "16", "--channels", "8,8,16,16", "--batch-size", "16"]
TINY = dict(image_size=32, z_dim=16, channels=(8, 8, 16, 16), batch_size=16)  # the same, as TrainConfig fields
TINY_Z_DIM = 16
TINY_N_IMAGES = 64
TINY_HELDOUT = 16
# Everything a command that continues the tiny run (--resume) must repeat.
TINY_RUN_FLAGS = ["--data", TINY_DATA, *TINY_FLAGS, "--heldout-size", str(TINY_HELDOUT)]
# A run at another image size, 96 px (the decoder grows 6 x 6 -> 96 x 96), as small as it gets otherwise.
RUN_96_FLAGS = ["--data", "synthetic:n=24,seed=2", "--image-size", "96", "--z-dim", "8", "--channels", "4,4,8,8",
                "--batch-size", "8", "--heldout-size", "8", "--epochs", "1"]


@pytest.fixture(scope="session")
def tiny_run_template(tmp_path_factory) -> Path:
    """One run trained (1 epoch) and encoded by the CLI, shared by the whole session.

    Its preprocessing cache (``--cache-dir``, recorded in the run) is its own, so every copy
    reuses it. Never change this folder: take a copy (:func:`tiny_run`) to change anything.
    """
    from aegen.cli import main

    root = tmp_path_factory.mktemp("tiny-run")
    run = root / "run"
    assert main(["train", *TINY_RUN_FLAGS, "--epochs", "1", "--cache-dir", str(root / "cache"), "--out", str(run)]) == 0
    assert main(["encode", str(run)]) == 0
    return run


@pytest.fixture(scope="session")
def run_96px(tmp_path_factory) -> Path:
    """A run trained (1 epoch) and encoded at 96 px, shared by the session."""
    from aegen.cli import main

    root = tmp_path_factory.mktemp("run-96px")
    run = root / "run"
    assert main(["train", *RUN_96_FLAGS, "--cache-dir", str(root / "cache"), "--out", str(run)]) == 0
    assert main(["encode", str(run)]) == 0
    return run


@pytest.fixture
def tiny_run(tiny_run_template, tmp_path) -> Path:
    """A private copy of the session's tiny run, free to change."""
    return Path(shutil.copytree(tiny_run_template, tmp_path / "run"))


@pytest.fixture(scope="session")
def shared_model_cache(tmp_path_factory) -> Path:
    """Converted Inception models and bfloat16 calibrations, shared by the session's tests:
    they are keyed by content and versions and checked on load, and cost tens of seconds each."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def shared_report_image_cache(tmp_path_factory) -> Path:
    """Compacted report images, shared by the session's tests: keyed by the source bytes and checked
    on load, like the models; many tests write reports of the same tiny runs."""
    return tmp_path_factory.mktemp("report-images")


@pytest.fixture(autouse=True)
def no_disk_flush(monkeypatch):
    """Durable writes skip their fsync in tests, as database test suites turn fsync off: a flush
    only guards against a power cut (test_reliability checks which writes call it), and a test
    session makes about a thousand of them at milliseconds each."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch, shared_model_cache, shared_report_image_cache):
    """Every test gets its own preprocessing cache, so tests never see each other's data files."""
    cache = tmp_path_factory.mktemp("cache")
    (cache / "models").symlink_to(shared_model_cache, target_is_directory=True)
    (cache / "report-images").symlink_to(shared_report_image_cache, target_is_directory=True)
    monkeypatch.setenv("AEGEN_CACHE_DIR", str(cache))


def jpeg_bytes(rng: np.random.Generator, size=(178, 218)) -> bytes:
    # Smooth random images: a gradient plus noise compresses like a photo.
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * rng.uniform(0.3, 1.2), yy * rng.uniform(0.3, 1.0), (xx + yy) * 0.4], -1)
    img = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def write_celeba_layout(folder: Path, n: int = 12, n_people: int = 4, corrupt: tuple[int, ...] = (),
                        seed: int = 0, as_zip: bool = True) -> Path:
    """A tiny CelebA in the official layout: img_align_celeba.zip plus the three annotation files."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    blobs = {name: (b"not a jpeg" if i in corrupt else jpeg_bytes(rng)) for i, name in enumerate(names)}
    if as_zip:
        with zipfile.ZipFile(folder / "img_align_celeba.zip", "w") as zf:
            for name, blob in blobs.items():
                zf.writestr(f"img_align_celeba/{name}", blob)
    else:
        (folder / "img_align_celeba").mkdir()
        for name, blob in blobs.items():
            (folder / "img_align_celeba" / name).write_bytes(blob)
    attrs = rng.choice([-1, 1], size=(n, len(ATTR_NAMES)))
    lines = [str(n), " ".join(ATTR_NAMES)] + [f"{nm} " + " ".join(f"{v:2d}" for v in row) for nm, row in zip(names, attrs)]
    (folder / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (folder / "identity_CelebA.txt").write_text("".join(f"{nm} {100 + i % n_people}\n" for i, nm in enumerate(names)))
    (folder / "list_eval_partition.txt").write_text("".join(f"{nm} 0\n" for nm in names))
    return folder / "img_align_celeba.zip" if as_zip else folder / "img_align_celeba"


@pytest.fixture
def tiny_celeba(tmp_path) -> Path:
    return write_celeba_layout(tmp_path / "celeba")


@pytest.fixture
def shared_celeba() -> Path:
    zipped = SHARED_CELEBA / "img_align_celeba.zip"
    if not zipped.is_file():
        pytest.skip("../shared/data/celeba is not present")
    return zipped
