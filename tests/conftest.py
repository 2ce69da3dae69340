"""Shared fixtures: tiny data sets made inside the tests, and the optional real CelebA."""

from __future__ import annotations

import io
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


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own preprocessing cache, so tests never see each other's files."""
    monkeypatch.setenv("AEGEN_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


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
