"""The evaluation protocol: score sets of z-vectors of one run against its held-out images.

:class:`Evaluator` prepares everything that does not depend on the method once (reference
subsets and their features, the face rate of real images, the training images for the
memorisation check, the normal fit of the z-points) and then scores any number of methods
or sweep settings with the same references.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from aegen.evaluate import metrics
from aegen.evaluate.cache import FeatureCache, subset_indices
from aegen.evaluate.faces import DetectorUnavailable, FaceDetector
from aegen.evaluate.features import FeaturesUnavailable, make_features
from aegen.evaluate.latent_check import LatentEllipsoid
from aegen.evaluate.memorisation import NearestTrainingImage, memorisation_summary
from aegen.evaluate.methods import RECONSTRUCTION, REFERENCE_ROWS, sample_method
from aegen.evaluate.protocol import derive_seed, package_versions

FEATURE_METRICS = ("fid", "kid", "precision", "recall", "density", "coverage")


@dataclass
class ScoredSet:
    """One row of results plus the per-image values behind it (kept for figures)."""

    row: dict
    radii: np.ndarray | None = None
    nn_distances: np.ndarray | None = None
    images: np.ndarray | None = field(default=None, repr=False)


class Evaluator:
    """Scores z-vectors of a run: decode, then compare with held-out real images.

    n: generated images per method (and the size of the real reference subsets, capped by
    the split sizes). seed: seeds the samplers (``random_state=seed``) and, through
    :func:`derive_seed`, the reference subsets and KID's subsets. features: 'inception' (the
    standard FID network) or 'pixels' (downsampled pixels, clearly labelled; no extra needed).
    faces: run the face detector. fid_method: how FID's matrix square root is computed
    (see :func:`aegen.evaluate.metrics.fid_from_features`; all agree to round-off).
    """

    def __init__(self, n: int = 200, seed: int = 0, features: str = "inception", faces: bool = True,
                 memorisation_size: int = 32, fid_method: str = "auto", kid_subsets: int = 100,
                 pr_k: int = 3, dc_k: int = 5, batch_size: int = 32, progress: bool = True):
        if n < 2:
            raise ValueError(f"n must be >= 2, got {n}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        if fid_method not in metrics.FID_METHODS:
            raise ValueError(f"fid_method must be one of {metrics.FID_METHODS}, got {fid_method!r}")
        self.n, self.seed, self.features, self.faces = int(n), int(seed), features, faces
        self.memorisation_size, self.fid_method, self.kid_subsets = memorisation_size, fid_method, kid_subsets
        self.pr_k, self.dc_k, self.batch_size, self.progress = pr_k, dc_k, batch_size, progress

    # -- preparation -------------------------------------------------------------------
    def fit(self, run) -> "Evaluator":
        """Prepare the references of ``run`` (an :class:`aegen.run.Run`); cached under RUN/eval/cache."""
        self.run_ = run
        self.cache_ = FeatureCache(run.path / "eval" / "cache")
        self.skipped_: dict[str, str] = {}
        self.timings_: dict[str, float] = {}
        self.versions_ = package_versions()
        self._setup_extractors()
        z_train, z_heldout = run.zpoints("train"), run.zpoints("heldout")
        self.split_sizes_ = {"train": len(z_train), "heldout": len(z_heldout)}
        self._choose_subsets()
        self.z_heldout_ref_ = np.asarray(z_heldout[self.heldout_index_], dtype=np.float32)
        self.z_heldout_recon_ = np.asarray(z_heldout[self.reconstruction_index_], dtype=np.float32)

        self._images: dict[str, np.ndarray] = {}
        self.heldout_ref_images_ = np.asarray(self._split_images("heldout")[self.heldout_index_])
        self.ellipsoid_ = self._timed("latent fit", lambda: LatentEllipsoid().fit(np.asarray(z_train)))
        self._timed("reference features", self._reference_features)
        self._timed("memorisation index", self._memorisation_index)
        self._timed("reference faces", self._reference_faces)
        self._images.clear()
        return self

    def _choose_subsets(self) -> None:
        """Seeded subsets: held-out reference, training reference, held-out images to reconstruct."""
        self.seeds_ = {p: derive_seed(self.seed, p) for p in ("heldout-reference", "train-reference", "reconstruction", "kid")}
        self.seeds_["samplers"] = self.seed
        n_train, n_heldout = self.split_sizes_["train"], self.split_sizes_["heldout"]
        self.heldout_index_ = subset_indices(n_heldout, self.n, self.seeds_["heldout-reference"])
        self.train_index_ = subset_indices(n_train, self.n, self.seeds_["train-reference"])
        rest = np.setdiff1d(np.arange(n_heldout), self.heldout_index_)
        # Reconstructions of the reference images themselves would sit next to them in every
        # metric; a disjoint set is used whenever the held-out split is large enough.
        self.reconstruction_paired_ = len(rest) < len(self.heldout_index_)
        if self.reconstruction_paired_:
            self.reconstruction_index_ = self.heldout_index_
        else:
            self.reconstruction_index_ = rest[subset_indices(len(rest), self.n, self.seeds_["reconstruction"])]

    def _setup_extractors(self) -> None:
        try:
            self.extractor_ = make_features(self.features, batch_size=self.batch_size, progress=self.progress)
        except FeaturesUnavailable as exc:
            self.extractor_ = None
            for name in FEATURE_METRICS:
                self.skipped_[name] = str(exc)
        self.detector_ = None
        if self.faces:
            try:
                self.detector_ = FaceDetector(progress=self.progress)
            except DetectorUnavailable as exc:
                self.skipped_["face_rate"] = str(exc)
        else:
            self.skipped_["face_rate"] = "face detection turned off"

    def _split_images(self, split: str) -> np.ndarray:
        if split not in self._images:
            self._images[split] = self.run_.images(split)
        return self._images[split]

    def _timed(self, stage: str, compute):
        start = time.perf_counter()
        result = compute()
        self.timings_[stage] = round(self.timings_.get(stage, 0.0) + time.perf_counter() - start, 3)
        return result

    def _cached(self, kind: str, split: str, index: np.ndarray, seed: int, extractor_id: str, compute) -> np.ndarray:
        key = {"kind": kind, "split": split, "n": int(len(index)), "n_split": self.split_sizes_[split],
               "seed": int(seed), "image_size": int(self.run_.image_size), "extractor": extractor_id}
        return self.cache_.get_or_compute(key, compute)

    def _reference_features(self) -> None:
        if self.extractor_ is None:
            return
        ext = self.extractor_
        self.heldout_features_ = self._cached(
            "features", "heldout", self.heldout_index_, self.seeds_["heldout-reference"], ext.id,
            lambda: ext.transform(self.heldout_ref_images_, desc="features (held-out)"))
        self.train_features_ = self._cached(
            "features", "train", self.train_index_, self.seeds_["train-reference"], ext.id,
            lambda: ext.transform(np.asarray(self._split_images("train")[self.train_index_]), desc="features (train)"))

    def _memorisation_index(self) -> None:
        neighbours = NearestTrainingImage(self.memorisation_size, progress=self.progress)
        all_train = np.arange(self.split_sizes_["train"])
        side = min(self.memorisation_size, self.run_.image_size)
        pixels = self._cached("pixels", "train", all_train, 0, f"box-{side}-uint8",
                              lambda: neighbours.pixels(self._split_images("train")))
        self.neighbours_ = neighbours.fit_pixels(pixels)
        self.heldout_nn_, _ = self.neighbours_.distances(self.heldout_ref_images_)

    def _reference_faces(self) -> None:
        if self.detector_ is None:
            return
        found = self._cached("faces", "heldout", self.heldout_index_, self.seeds_["heldout-reference"], self.detector_.id,
                             lambda: self.detector_.detect(self.heldout_ref_images_, desc="faces (held-out)"))
        self.heldout_faces_ = found.astype(bool)

    # -- scoring -----------------------------------------------------------------------
    def score(self, method: str, Z: np.ndarray, images: np.ndarray, kind: str = "sampler",
              params: dict | None = None, against: str = "heldout", notes: list[str] | None = None,
              heldout_itself: bool = False) -> ScoredSet:
        """Score generated images (n, S, S, 3) uint8 decoded from Z (n, d) against real images.

        against: 'heldout' (the held-out reference subset) or 'train' (the training reference
        subset). heldout_itself: the images are the held-out reference images (the 'real'
        row), whose features, face detections and distances are already known.
        """
        row = {"method": method, "kind": kind, "params": dict(params or {}), "n": int(len(images))}
        notes = list(notes or [])
        timings: dict[str, float] = {}

        def stage(name, compute):
            start = time.perf_counter()
            result = compute()
            timings[name] = round(time.perf_counter() - start, 3)
            return result

        row.update(dict.fromkeys(("fid", "kid", "kid_std", "precision", "recall", "density", "coverage")))
        if self.extractor_ is not None:
            reference = self.heldout_features_ if against == "heldout" else self.train_features_
            if heldout_itself:
                fake = self.heldout_features_
            else:
                fake = stage("features", lambda: self.extractor_.transform(images, desc=f"features ({method})"))
            row.update(stage("feature metrics", lambda: self._feature_metrics(reference, fake, notes)))
        row["face_rate"] = None
        if self.detector_ is not None:
            found = self.heldout_faces_ if heldout_itself else stage(
                "faces", lambda: self.detector_.detect(images, desc=f"faces ({method})"))
            row["face_rate"] = float(np.mean(found))
        row["face_rate_heldout"] = float(np.mean(self.heldout_faces_)) if self.detector_ is not None else None
        nn = self.heldout_nn_ if heldout_itself else stage("memorisation", lambda: self.neighbours_.distances(images)[0])
        row.update(memorisation_summary(nn, self.heldout_nn_))
        radii = self.ellipsoid_.radius(Z)
        row.update(self.ellipsoid_.summary(Z))
        row.update(self._provenance(against))
        row["seconds"] = timings
        row["notes"] = notes
        return ScoredSet(row=row, radii=radii, nn_distances=nn, images=images)

    def _feature_metrics(self, reference: np.ndarray, fake: np.ndarray, notes: list[str]) -> dict:
        out: dict = {}
        try:
            out["fid"] = metrics.fid_from_features(reference, fake, method=self.fid_method)
        except ValueError as exc:
            out["fid"] = metrics.fid_from_features(reference, fake, method="eigh")
            notes.append(f"FID by eigh: {exc}")
        try:
            out["kid"], out["kid_std"] = metrics.kid(reference, fake, n_subsets=self.kid_subsets,
                                                     random_state=self.seeds_["kid"])
        except ValueError as exc:
            notes.append(f"KID skipped: {exc}")
        try:
            out.update(metrics.fidelity_diversity(reference, fake, pr_k=self.pr_k, dc_k=self.dc_k))
        except ValueError as exc:
            notes.append(f"precision/recall/density/coverage skipped: {exc}")
        return out

    def _provenance(self, against: str) -> dict:
        index = self.heldout_index_ if against == "heldout" else self.train_index_
        seed_name = "heldout-reference" if against == "heldout" else "train-reference"
        return {
            "features": self.extractor_.id if self.extractor_ is not None else None,
            "seed": self.seed,
            "reference": {"split": against, "n": int(len(index)), "seed": self.seeds_[seed_name]},
            "image_size": int(self.run_.image_size),
            "versions": self.versions_,
        }

    def evaluate_method(self, name: str, params: dict | None = None) -> ScoredSet:
        """Fit sampler ``name`` to the training z-points, draw n vectors, decode and score them."""
        params = dict(params or {})
        start = time.perf_counter()
        Z = sample_method(self.run_, name, params, self.n, self.seed, progress=self.progress)
        sampled = time.perf_counter()
        images = self.run_.decode(Z, progress=self.progress)
        decoded = time.perf_counter()
        scored = self.score(name, Z, images, kind="sampler", params=params)
        scored.row["seconds"] = {"sample": round(sampled - start, 3), "decode": round(decoded - sampled, 3),
                                 **scored.row["seconds"], "total": round(time.perf_counter() - start, 3)}
        return scored

    def evaluate_reference(self, name: str) -> ScoredSet:
        """Score a reference row: 'reconstruction' or 'real' (see :mod:`aegen.evaluate.methods`)."""
        if name not in REFERENCE_ROWS:
            raise ValueError(f"reference rows are {REFERENCE_ROWS}, got {name!r}")
        start = time.perf_counter()
        if name == RECONSTRUCTION:
            notes = ["held-out images encoded and decoded"]
            if self.reconstruction_paired_:
                notes.append("too few held-out images for a disjoint set: the reconstructed images are "
                             "the reference images themselves, which flatters every metric")
            Z = self.z_heldout_recon_
            scored = self.score(name, Z, self.run_.decode(Z, progress=self.progress), kind="reference", notes=notes)
        else:
            scored = self.score(name, self.z_heldout_ref_, self.heldout_ref_images_, kind="reference", against="train",
                                notes=["held-out real images scored against training images"], heldout_itself=True)
        scored.row["seconds"]["total"] = round(time.perf_counter() - start, 3)
        return scored

    def reference_values(self) -> dict:
        """Face rate, nearest-training distance and latent check of the held-out reference images."""
        values = {"face_rate": float(np.mean(self.heldout_faces_)) if self.detector_ is not None else None,
                  "nn_train_median": float(np.median(self.heldout_nn_))}
        values.update(self.ellipsoid_.summary(self.z_heldout_ref_, prefix="latent"))
        return values

    def protocol(self) -> dict:
        """Settings, seeds, references and skipped metrics, for metrics.json."""
        ext, det = self.extractor_, self.detector_
        return {
            "n": self.n, "seed": self.seed, "seeds": self.seeds_, "image_size": int(self.run_.image_size),
            "z_dim": int(self.run_.z_dim), "split_sizes": self.split_sizes_,
            "reference": {"split": "heldout", "n": int(len(self.heldout_index_)), "seed": self.seeds_["heldout-reference"],
                          "n_train_reference": int(len(self.train_index_)),
                          "reconstruction_rows": int(len(self.reconstruction_index_)),
                          "reconstruction_disjoint_from_reference": not self.reconstruction_paired_},
            "features": ext.describe() if ext is not None else None,
            "fid": {"method": self.fid_method, "note": f"FID is biased upward at small N; here N = {self.n}"},
            "kid": {"kernel": "(x.y/D + 1)^3", "estimator": "unbiased MMD^2", "subsets": self.kid_subsets,
                    "subset_size": "min(1000, half the smaller set)"},
            "precision_recall": {"k": self.pr_k, "reference": "Kynkaanniemi et al. 2019"},
            "density_coverage": {"k": self.dc_k, "reference": "Naeem et al. 2020"},
            "face_detection": det.describe() if det is not None else None,
            "memorisation": {"space": f"box-downsampled pixels, {min(self.memorisation_size, self.run_.image_size)} px side, "
                                      "rounded to 8 bits, values in [0, 1]", "distance": "RMS per pixel channel",
                             "training_images": self.split_sizes_["train"]},
            "latent_check": self.ellipsoid_.describe(),
            "reference_values": self.reference_values(),
            "skipped": dict(self.skipped_),
            "cache": {"folder": str(self.cache_.folder), "hits": self.cache_.hits, "misses": self.cache_.misses},
            "timings_s": dict(self.timings_),
            "versions": self.versions_,
        }
