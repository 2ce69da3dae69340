"""A small stand-in for a run folder with attributes planted along known latent directions.

Other attribute tests import ``FakeRun``/``make_fake_run``/``GaussianSampler`` from here; the
tests below check that the planted structure is what those tests rely on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aegen import AegenError

ATTRS = ["Smiling", "Male", "Eyeglasses", "Bald", "Split"]
# (positive rate, shift of the positive class in units of the per-component std, along axis k)
PLANTED = {"Smiling": (0.5, 3.0, 0), "Male": (0.5, 1.0, 1), "Eyeglasses": (0.12, 2.5, 2),
           "Bald": (0.1, 0.0, 3), "Split": (0.5, 12.0, 4)}
IMAGE_SIZE = 16


class FakeRun:
    """The parts of :class:`aegen.run.Run` that the attribute code uses, in memory.

    z-points: d-dimensional normal with unit variance per component, plus the planted shift
    of each attribute's positive class along one coordinate axis. decode() paints an image
    whose left half is bright where z[0] > 0 (so a pixel reading tells "Smiling"), and
    images(split) returns decode(zpoints(split)) as the "real" images.
    """

    def __init__(self, path: Path, d: int = 16, n_train: int = 800, n_heldout: int = 400, seed: int = 0,
                 with_attrs: bool = True, with_heldout: bool = True):
        rng = np.random.default_rng(seed)
        self.path = Path(path)
        self.z_dim, self.image_size = d, IMAGE_SIZE
        self.with_attrs, self.with_heldout = with_attrs, with_heldout
        self._z, self._attrs, self._ids = {}, {}, {}
        offset = 0
        for split, n in (("train", n_train), ("heldout", n_heldout)):
            Z = rng.normal(size=(n, d))
            attrs = np.empty((n, len(ATTRS)), dtype=np.int8)
            for k, name in enumerate(ATTRS):
                rate, shift, axis = PLANTED[name]
                positive = rng.random(n) < rate
                attrs[:, k] = np.where(positive, 1, -1)
                # Centre the shift so the cloud's mean stays near 0.
                Z[:, axis] += shift * (positive - rate)
            self._z[split] = Z.astype(np.float32)
            self._attrs[split] = attrs
            self._ids[split] = np.array([f"{offset + i + 1:06d}.jpg" for i in range(n)])
            offset += n

    def zpoints(self, split: str = "train") -> np.ndarray:
        if split == "heldout" and not self.with_heldout:
            raise AegenError("no z-points")
        return self._z[split]

    def zpoint_meta(self, split: str = "train") -> dict:
        if split == "heldout" and not self.with_heldout:
            raise AegenError("no z-points")
        if not self.with_attrs:
            return {"ids": self._ids[split], "attrs": None, "attr_names": []}
        return {"ids": self._ids[split], "attrs": self._attrs[split], "attr_names": list(ATTRS)}

    def decode(self, Z, batch_size: int = 256, progress: bool = True) -> np.ndarray:
        Z = np.asarray(Z, dtype=np.float32)
        if Z.ndim != 2 or Z.shape[1] != self.z_dim:
            raise AegenError(f"bad z shape {Z.shape}")
        images = np.zeros((len(Z), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
        images[:, :, : IMAGE_SIZE // 2] = np.where(Z[:, 0] > 0, 220, 30)[:, None, None, None]
        images[:, :, IMAGE_SIZE // 2:, 1] = np.clip(128 + 40 * Z[:, 1], 0, 255)[:, None, None].astype(np.uint8)
        return images

    def images(self, split: str = "heldout") -> np.ndarray:
        return self.decode(self.zpoints(split))

    def subdir(self, name: str) -> Path:
        folder = self.path / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def make_fake_run(tmp_path: Path, **kwargs) -> FakeRun:
    return FakeRun(tmp_path / "run", **kwargs)


class GaussianSampler:
    """A minimal full-covariance Gaussian sampler with the samplers' fit/sample interface."""

    def fit(self, Z):
        Z = np.asarray(Z, dtype=np.float64)
        self.mean_, self.cov_ = Z.mean(axis=0), np.cov(Z, rowvar=False)
        return self

    def sample(self, n, random_state=0):
        rng = np.random.default_rng(random_state)
        return rng.multivariate_normal(self.mean_, self.cov_, size=n).astype(np.float32)


def gaussian_factory(method, params):
    assert method == "gaussian"
    return GaussianSampler()


def test_fake_run_plants_the_shift(tmp_path):
    run = make_fake_run(tmp_path)
    Z, attrs = run.zpoints("train"), run.zpoint_meta("train")["attrs"]
    for k, name in enumerate(ATTRS):
        rate, shift, axis = PLANTED[name]
        gap = Z[attrs[:, k] > 0, axis].mean() - Z[attrs[:, k] < 0, axis].mean()
        assert abs(gap - shift) < 0.5, name
        assert abs(np.mean(attrs[:, k] > 0) - rate) < 0.06, name


def test_fake_decode_reads_the_smiling_axis(tmp_path):
    run = make_fake_run(tmp_path)
    Z = run.zpoints("heldout")
    images = run.decode(Z)
    assert images.shape == (len(Z), IMAGE_SIZE, IMAGE_SIZE, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[:, 0, 0, 0] > 128, Z[:, 0] > 0)
