"""What every row of an evaluation is scored against, prepared once per run, N and seed.

:class:`References` chooses the subsets (:mod:`~aegen.evaluate.protocol.subsets`), sets up the
feature extractor and the face detector, and measures the real images: features and Gram
matrices of the held-out and training references, their faces, the nearest-training-image index
with its k-means cells, the copying tests and the latent fit. Every measurement goes through the
cache under RUN/eval/cache with a key naming what it depends on (split, N, seed, extractor,
checkpoint), so a second evaluation, or an interrupted one, reuses them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from aegen.checkpoint import CHECKPOINT
from aegen.evaluate.features.cache import FeatureCache
from aegen.evaluate.features.extractors import FeaturesUnavailable, make_features
from aegen.evaluate.features.faces import DetectorUnavailable, FaceDetector
from aegen.evaluate.metrics.latent_check import LatentCopyGuard, LatentEllipsoid
from aegen.evaluate.metrics.memorisation import (CopyingTest, NearestTrainingImage, data_copying_test,
                                                  memorisation_summary)
from aegen.evaluate.metrics.scores import FEATURE_METRICS
from aegen.evaluate.protocol.methods import RECONSTRUCTION
from aegen.evaluate.protocol.seeds import evaluation_seeds, package_versions
from aegen.evaluate.protocol.subsets import choose_subsets

# Cells of the k-means partition of the training images used by the copying test's C_T.
MAX_COPY_CELLS = 20


# The least value of each count an evaluation takes (bootstrap: 0 turns it off, 1 is refused).
SETTING_MINIMUM = {"n": 2, "seed": 0, "repeats": 1, "bootstrap": 0, "batch_size": 1, "fit_seeds": 1}


def check_settings(**values) -> None:
    """ValueError naming the option (``--n``, ``--seed``, ...) whose value an evaluation cannot take."""
    for name, value in values.items():
        low = SETTING_MINIMUM[name]
        if isinstance(value, bool) or int(value) != value or value < low or (name == "bootstrap" and value == 1):
            raise ValueError(f"--{name.replace('_', '-')} must be >= {low}"
                             + (" (0 turns it off; 1 is too few)" if name == "bootstrap" else "")
                             + f" and an integer, got {value!r}")


def timed(timings: dict[str, float], stage: str, compute):
    """compute(), its seconds added to ``timings[stage]``."""
    start = time.perf_counter()
    result = compute()
    timings[stage] = round(timings.get(stage, 0.0) + time.perf_counter() - start, 3)
    return result


@dataclass(frozen=True)
class ReferenceFeatures:
    """Features (n, D) of the held-out and training references with their Gram matrices (n, n)."""

    heldout: np.ndarray
    heldout_gram: np.ndarray
    train: np.ndarray
    train_gram: np.ndarray

    def against(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(features, Gram matrix) of the reference of ``split`` ('heldout' or 'train')."""
        return (self.heldout, self.heldout_gram) if split == "heldout" else (self.train, self.train_gram)


class References:
    """The references of one evaluation (see the module's docstring); :meth:`prepare` measures them.

    Public after :meth:`prepare`: ``run``, ``seeds``, ``subsets``, ``split_sizes``, ``extractor``
    and ``detector`` (None when unavailable or off, the reason in ``skipped``), ``features``
    (:class:`ReferenceFeatures` or None), ``heldout_images``, ``heldout_faces``, ``neighbours``,
    ``train_cells``, ``heldout_nn``, ``heldout_cells``, ``copy_cells``, ``ellipsoid``,
    ``z_heldout`` (all held-out z-points), ``cache``, ``timings``, ``versions``.
    """

    def __init__(self, n: int, seed: int, repeats: int = 1, fit_seeds: int = 1, features: str = "inception",
                 feature_mode: str = "fast", faces: bool = True, reconstruction: bool = True,
                 memorisation_size: int = 32, batch_size: int = 32, progress: bool = True):
        self.n, self.seed, self.repeats, self.fit_seeds = n, seed, repeats, fit_seeds
        self.feature_kind, self.feature_mode, self.faces = features, feature_mode, faces
        self.reconstruction, self.memorisation_size = reconstruction, memorisation_size
        self.batch_size, self.progress = batch_size, progress

    def prepare(self, run) -> "References":
        self.run, self.cache = run, FeatureCache(run.path / "eval" / "cache")
        self.skipped: dict[str, str] = {}
        self.timings: dict[str, float] = {}
        self.versions = package_versions()
        z_train, z_heldout = run.zpoints("train"), run.zpoints("heldout")
        self.split_sizes = {"train": len(z_train), "heldout": len(z_heldout)}
        self.seeds = evaluation_seeds(self.seed, self.repeats, self.fit_seeds)
        self.subsets = choose_subsets(self.n, len(z_train), len(z_heldout), self.seeds, self.reconstruction)
        self._setup_extractors()
        self.z_heldout = np.asarray(z_heldout, dtype=np.float32)
        self._images: dict[str, np.ndarray] = {}
        self.heldout_images = np.asarray(self.split_images("heldout")[self.subsets.heldout])
        self.ellipsoid = self.timed("latent fit", lambda: LatentEllipsoid().fit(np.asarray(z_train), self.z_heldout))
        self.features = self.timed("reference features", self._reference_features)
        self.timed("memorisation index", self._memorisation_index)
        self._copy_tests: dict[bool, tuple[CopyingTest, LatentCopyGuard] | None] = {}
        self.timed("copying tests", lambda: self.copy_tests(mirrored=False))
        self.heldout_faces = self.timed("reference faces", self._reference_faces)
        self._images.clear()
        return self

    @property
    def side(self) -> int:
        """Side of the downsampled pixels of the memorisation and copying tests."""
        return min(self.memorisation_size, self.run.image_size)

    def z_heldout_at(self, which: str) -> np.ndarray:
        """Held-out z-points of the reference ('heldout') or of the reconstruction row ('reconstruction')."""
        return self.z_heldout[getattr(self.subsets, which)]

    def _setup_extractors(self) -> None:
        try:
            self.extractor = make_features(self.feature_kind, batch_size=self.batch_size, progress=self.progress,
                                           mode=self.feature_mode)
        except FeaturesUnavailable as exc:
            self.extractor = None
            self.skipped.update(dict.fromkeys(FEATURE_METRICS, str(exc)))
        self.detector = None
        if not self.faces:
            self.skipped["face_rate"] = "face detection turned off"
            return
        try:
            self.detector = FaceDetector(progress=self.progress)
        except DetectorUnavailable as exc:
            self.skipped["face_rate"] = str(exc)

    def split_images(self, split: str) -> np.ndarray:
        if split not in self._images:
            self._images[split] = self.run.images(split)
        return self._images[split]

    def timed(self, stage: str, compute):
        return timed(self.timings, stage, compute)

    def cached(self, kind: str, split: str, index: np.ndarray, seed: int, extractor_id: str, compute, **extra):
        """Measurement ``kind`` of the images ``index`` of ``split``, from the cache or computed and stored."""
        key = {"kind": kind, "split": split, "n": int(len(index)), "n_split": self.split_sizes[split],
               "seed": int(seed), "image_size": int(self.run.image_size), "extractor": extractor_id, **extra}
        return self.cache.get_or_compute(key, compute)

    def generated_features(self, name: str, params: dict, seed: int, compute) -> np.ndarray:
        """Features of one sample set, cached so that an interrupted evaluation resumes."""
        if self.extractor is None:
            return compute()
        # Decoder weights and fitted z-points are in the key: a retrained run never reuses old features.
        zfile = self.run.path / "zpoints" / "train.npy"
        key = {"kind": "generated", "method": name, "params": params, "n": self.n, "seed": int(seed),
               "image_size": int(self.run.image_size), "extractor": self.extractor.id,
               "checkpoint": self.checkpoint_stamp(), "zpoints": [zfile.stat().st_size, zfile.stat().st_mtime_ns]}
        return self.cache.get_or_compute(key, compute)

    def reconstruction_features(self, images: np.ndarray) -> list[np.ndarray] | None:
        """Features of the reconstruction row's images (n, S, S, 3), cached like a sample set's under
        the reconstruction subset's seed: a resumed evaluation and comparisons across runs
        (benchmarks/paired_runs.py) read them back. None without a feature extractor."""
        if self.extractor is None:
            return None
        return [self.generated_features(RECONSTRUCTION, {}, self.seeds["reconstruction"],
                                        lambda: self.extractor.transform(images, desc="features (reconstruction)"))]

    def checkpoint_stamp(self) -> list:
        """Name, size and modification time of the run's checkpoint: in every key of data it decodes or encodes."""
        checkpoint = self.run.path / CHECKPOINT
        return [CHECKPOINT, checkpoint.stat().st_size, checkpoint.stat().st_mtime_ns] if checkpoint.exists() else []

    def _reference_features(self) -> ReferenceFeatures | None:
        ext, subsets = self.extractor, self.subsets
        if ext is None:
            return None
        heldout = self.cached("features", "heldout", subsets.heldout, self.seeds["heldout-reference"], ext.id,
                              lambda: ext.transform(self.heldout_images, desc="features (held-out)"))
        train = self.cached("features", "train", subsets.train, self.seeds["train-reference"], ext.id,
                            lambda: ext.transform(np.asarray(self.split_images("train")[subsets.train]),
                                                  desc="features (train)"))
        h64, t64 = heldout.astype(np.float64), train.astype(np.float64)
        return ReferenceFeatures(heldout, h64 @ h64.T, train, t64 @ t64.T)

    def _memorisation_index(self) -> None:
        neighbours = NearestTrainingImage(self.memorisation_size, progress=self.progress)
        all_train = np.arange(self.split_sizes["train"])
        pixels = self.cached("pixels", "train", all_train, 0, f"box-{self.side}-uint8",
                             lambda: neighbours.pixels(self.split_images("train")))
        self.neighbours = neighbours.fit_pixels(pixels)
        self.copy_cells = int(np.clip(self.n // 50, 1, MAX_COPY_CELLS))
        self.train_cells = self.cached("copy-cells", "train", all_train, self.seeds["copy-cells"],
                                       f"box-{self.side}-kmeans",
                                       lambda: neighbours.cluster(self.copy_cells, self.seeds["copy-cells"]),
                                       cells=self.copy_cells)
        self.heldout_nn, index = self.neighbours.distances(self.heldout_images)
        self.heldout_cells = self.train_cells[index]

    def _reference_faces(self) -> np.ndarray | None:
        if self.detector is None:
            return None
        return self.cached("faces", "heldout", self.subsets.heldout, self.seeds["heldout-reference"], self.detector.id,
                           lambda: self.detector.detect(self.heldout_images, desc="faces (held-out)")).astype(bool)

    def copy_tests(self, mirrored: bool) -> tuple[CopyingTest, LatentCopyGuard] | None:
        """The image and latent copying tests (built once each), or None when the probe is too small.

        Training side: every training item; held-out side: every held-out item but the probe;
        probe: the per-item threshold and the latent metric. ``mirrored`` adds every item's
        mirror image to both sides (for samplers fitted on the mirrored training faces; the run
        needs ``aegen encode --mirrored``).
        """
        if mirrored in self._copy_tests:
            return self._copy_tests[mirrored]
        subsets = self.subsets
        if len(subsets.probe) < 2:
            self.skipped["copy_z"] = (f"no held-out items left outside the reference subset for the copying tests' "
                                      f"probe (N = {self.n} of {self.split_sizes['heldout']})")
            self._copy_tests[mirrored] = None
            return None
        side, index = self.side, subsets.copy_heldout
        neighbours = NearestTrainingImage(self.memorisation_size, progress=False)
        heldout = self.split_images("heldout")
        seed = self.seeds["reconstruction"]
        heldout_pixels = self.cached("pixels", "heldout", index, seed, f"box-{side}-uint8",
                                     lambda: neighbours.pixels(np.asarray(heldout[index])))
        z_train = np.asarray(self.run.zpoints("train"), dtype=np.float32)
        z_heldout_side = self.z_heldout[index]
        train_side = self.neighbours
        if mirrored:
            train_pixels = np.concatenate([self.neighbours.train_pixels_, self.cached(
                "pixels-mirrored", "train", np.arange(self.split_sizes["train"]), 0, f"box-{side}-uint8",
                lambda: neighbours.pixels(np.ascontiguousarray(self.split_images("train")[:, :, ::-1])))])
            heldout_pixels = np.concatenate([heldout_pixels, self.cached(
                "pixels-mirrored", "heldout", index, seed, f"box-{side}-uint8",
                lambda: neighbours.pixels(np.ascontiguousarray(heldout[index][:, :, ::-1])))])
            train_side = NearestTrainingImage(self.memorisation_size, progress=self.progress).fit_pixels(train_pixels)
            z_train = np.concatenate([z_train, np.asarray(self.run.mirrored_zpoints(), dtype=np.float32)])
            z_heldout_side = np.concatenate([z_heldout_side, self.cached(
                "zpoints-mirrored", "heldout", index, seed, f"encoder-{self.checkpoint_stamp()}",
                lambda: self.run.encode_images(np.ascontiguousarray(heldout[index][:, :, ::-1]), progress=self.progress))])
        heldout_side = NearestTrainingImage(self.memorisation_size, progress=False).fit_pixels(heldout_pixels)
        image_test = CopyingTest().fit(train_side, heldout_side, np.asarray(heldout[subsets.probe]))
        latent_guard = LatentCopyGuard().fit(self.z_heldout[subsets.probe], z_train, z_heldout_side)
        self._copy_tests[mirrored] = (image_test, latent_guard)
        if mirrored:
            self._images.clear()  # built after prepare() for the first mirrored row: the images are not needed again
        return self._copy_tests[mirrored]

    def copying(self, images: np.ndarray, Z: np.ndarray, nearest_train: tuple, mirrored: bool,
                latent_self_match: str | None, stage) -> dict:
        """The image and latent copying tests of one generated set (images (n, S, S, 3), Z (n, d)).

        nearest_train: (distances, indices) of each image's nearest training image, reused when
        the test's training side is the memorisation index. latent_self_match: why the latent
        test does not apply (reported instead). stage(name, compute) times each test.
        """
        tests = self.copy_tests(mirrored)
        if tests is None:
            return {}
        image_test, latent_guard = tests
        n_train = self.split_sizes["train"]
        known = nearest_train if nearest_train[1] is not None and image_test.train_side_ is self.neighbours else None
        row = _unmirror(stage("copying test", lambda: image_test.test(images, known)), "copy_", n_train)
        if latent_self_match:
            row.update(latent_copy_z=None, latent_copy_applicable=False, latent_copy_note=latent_self_match)
        else:
            row.update(_unmirror(stage("latent copying test", lambda: latent_guard.test(Z)), "latent_copy_", n_train))
        row["copy_sides"] = {"items": "train+mirrored" if mirrored else "train", "train": image_test.n_train_,
                             "heldout": image_test.n_heldout_}
        return row

    def nearest_image_summary(self, nn: np.ndarray, index: np.ndarray | None) -> dict:
        """Memorisation summary and data-copying test of a set's nearest training images.

        nn (n,): each image's distance to its nearest training image; index (n,): which one
        (None: the set is the held-out reference itself).
        """
        cells = self.heldout_cells if index is None else self.train_cells[index]
        return {**memorisation_summary(nn, self.heldout_nn),
                **data_copying_test(nn, cells, self.heldout_nn, self.heldout_cells)}

    def describe_copy_tests(self, latent: bool = False) -> dict | None:
        """The unmirrored copying tests as recorded in the protocol (None when they could not be built)."""
        tests = self._copy_tests.get(False)
        if tests is None:
            return None
        what = tests[1].describe() if latent else tests[0].describe()
        return {**what, "sides": ("all training items vs every held-out item outside the probe (the reconstruction "
                                  "row's originals); with their mirror images for samplers fitted on mirrored points"),
                "flag": "z < -3 with excess >= 0.5, over all items or over the near items"}

    def provenance(self, against: str) -> dict:
        """What a row scored against the reference of ``against`` ('heldout' or 'train') records of it."""
        index = self.subsets.heldout if against == "heldout" else self.subsets.train
        return {"features": self.extractor.id if self.extractor is not None else None, "seed": self.seed,
                "reference": {"split": against, "n": int(len(index)), "seed": self.seeds[f"{against}-reference"]},
                "image_size": int(self.run.image_size), "versions": self.versions}

    def reference_values(self) -> dict:
        """Face rate, nearest-training distance and latent check of the held-out reference images."""
        values = {"face_rate": float(np.mean(self.heldout_faces)) if self.detector is not None else None,
                  "nn_train_median": float(np.median(self.heldout_nn))}
        values.update(self.ellipsoid.summary(self.z_heldout_at("heldout"), prefix="latent"))
        return values


def _unmirror(result: dict, prefix: str, n_train: int) -> dict:
    """Listed copies of the mirrored half of a side (index >= n_train) named as mirrored items."""
    for item in result.get(f"{prefix}items", []):
        if item["train"] >= n_train:
            item["train"] -= n_train
            item["mirrored"] = True
    return result
