"""The evaluation protocol: score sets of z-vectors of one run against its held-out images.

:class:`Evaluator` prepares everything that does not depend on the method once (disjoint
reference and reconstruction subsets of the held-out split and their features, the face rate
of real images, the training images for the copying test, the latent fit) and then scores any
number of rows with the same references. Each sampler row draws ``repeats`` independent sets
of N vectors (sampler seeds ``seed``, ``seed + 1``, ...); :meth:`Evaluator.finish` adds the
intervals that need every row at once (bootstrap with shared reference resamples, paired
differences, FID∞; see :mod:`aegen.evaluate.intervals`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from aegen import AegenError
from aegen.checkpoint import CHECKPOINT
from aegen.evaluate import metrics
from aegen.evaluate.intervals import GramPair
from aegen.evaluate.cache import FeatureCache, subset_indices
from aegen.evaluate.faces import DetectorUnavailable, FaceDetector
from aegen.evaluate.features import FeaturesUnavailable, make_features
from aegen.evaluate.latent_check import LatentCopyGuard, LatentEllipsoid
from aegen.evaluate.memorisation import CopyingTest, NearestTrainingImage, data_copying_test, memorisation_summary
from aegen.evaluate.methods import RECONSTRUCTION, REFERENCE_ROWS, fit_method, sampler_of
from aegen.evaluate.protocol import derive_seed, package_versions
from aegen.evaluate.summary import finish_rows, latent_loglik
from aegen.sample import FIT_ON

FEATURE_METRICS = ("fid", "kid", "precision", "recall", "density", "coverage")
# Cells of the k-means partition of the training images used by the copying test's C_T.
MAX_COPY_CELLS = 20


@dataclass
class ScoredSet:
    """One row of results plus the per-image values behind it (kept for figures and intervals)."""

    row: dict
    radii: np.ndarray | None = None
    nn_distances: np.ndarray | None = None
    images: np.ndarray | None = field(default=None, repr=False)
    features: list[np.ndarray] = field(default_factory=list, repr=False)
    loglik_values: np.ndarray | None = field(default=None, repr=False)
    set_fits: list[int] | None = None  # the fit (0..K-1) each sample set was drawn from; None: one fit


class Evaluator:
    """Scores z-vectors of a run: decode, then compare with held-out real images.

    n: generated images per set, and the size of the held-out reference subset (equal N).
    seed: sampler seed of the first repeat, and the root of every other seed (:func:`derive_seed`).
    repeats: independent sample sets per sampler row and fit. fit_seeds: K, the fits of each
    sampler whose fit is random (a ``random_state`` parameter): fit k uses random_state
    ``derive_seed(seed, "fit-k")`` (its own cache entry) and draws ``repeats`` sets; the
    intervals and paired differences then resample fits as well as images (1: one fit with the
    sampler's own random_state). bootstrap: replicates for the intervals
    (0: intervals over repeats only). fid_infinity: rows for which FID∞ is extrapolated.
    reconstruction: keep a held-out subset, disjoint from the reference, for the reconstruction
    row (needs 2N held-out images). features: 'inception' or 'pixels'; feature_mode: 'fast'
    (OpenVINO bfloat16, FID within 0.5% of exact) or 'exact' (float32, for figures set beside
    published ones); see :func:`aegen.evaluate.features.make_features`.
    """

    def __init__(self, n: int = 200, seed: int = 0, features: str = "inception", faces: bool = True,
                 repeats: int = 1, bootstrap: int = 100, fid_infinity=(), reconstruction: bool = True,
                 feature_mode: str = "fast", memorisation_size: int = 32, pr_k: int = 3, dc_k: int = 5,
                 batch_size: int = 32, progress: bool = True, fit_seeds: int = 1):
        self.n, self.seed, self.features, self.faces, self.fit_seeds = n, seed, features, faces, fit_seeds
        self.repeats, self.bootstrap, self.fid_infinity = repeats, bootstrap, fid_infinity
        self.reconstruction, self.feature_mode = reconstruction, feature_mode
        self.memorisation_size, self.pr_k, self.dc_k = memorisation_size, pr_k, dc_k
        self.batch_size, self.progress = batch_size, progress

    def _validate(self) -> None:
        for name, low in (("n", 2), ("seed", 0), ("repeats", 1), ("bootstrap", 0), ("batch_size", 1), ("fit_seeds", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.bootstrap == 1:
            raise ValueError("bootstrap must be 0 (off) or at least 2 replicates, got 1")

    # -- preparation -------------------------------------------------------------------
    def fit(self, run) -> "Evaluator":
        """Prepare the references of ``run`` (an :class:`aegen.run.Run`); cached under RUN/eval/cache."""
        self._validate()
        self.run_ = run
        self.cache_ = FeatureCache(run.path / "eval" / "cache")
        self.skipped_: dict[str, str] = {}
        self.timings_: dict[str, float] = {}
        self.versions_ = package_versions()
        z_train, z_heldout = run.zpoints("train"), run.zpoints("heldout")
        self.split_sizes_ = {"train": len(z_train), "heldout": len(z_heldout)}
        self._choose_subsets()
        self._setup_extractors()
        self.z_heldout_ref_ = np.asarray(z_heldout[self.heldout_index_], dtype=np.float32)
        self.z_heldout_all_ = np.asarray(z_heldout, dtype=np.float32)
        self.z_heldout_recon_ = np.asarray(z_heldout[self.reconstruction_index_], dtype=np.float32)

        self._images: dict[str, np.ndarray] = {}
        self.heldout_ref_images_ = np.asarray(self._split_images("heldout")[self.heldout_index_])
        self.ellipsoid_ = self._timed("latent fit", lambda: LatentEllipsoid().fit(np.asarray(z_train), self.z_heldout_all_))
        self._timed("reference features", self._reference_features)
        self._timed("memorisation index", self._memorisation_index)
        self._copy_tests: dict[bool, tuple[CopyingTest, LatentCopyGuard] | None] = {}
        self._timed("copying tests", lambda: self.copy_tests(mirrored=False))
        self._timed("reference faces", self._reference_faces)
        self._images.clear()
        self.scored_: list[ScoredSet] = []
        return self

    def _choose_subsets(self) -> None:
        """Seeded, disjoint held-out subsets: the reference and the images to reconstruct."""
        self.seeds_ = {p: derive_seed(self.seed, p) for p in
                       ("heldout-reference", "train-reference", "reconstruction", "bootstrap", "fid-infinity", "copy-cells")}
        self.seeds_["samplers"] = [self.seed + r for r in range(self.repeats)]
        if self.fit_seeds > 1:
            self.seeds_["fits"] = [derive_seed(self.seed, f"fit-{k}") for k in range(self.fit_seeds)]
        n_train, n_heldout = self.split_sizes_["train"], self.split_sizes_["heldout"]
        needed = self.n * (2 if self.reconstruction else 1)
        if n_heldout < needed:
            what = "disjoint reference and reconstruction subsets of N" if self.reconstruction else "a reference subset of N"
            raise AegenError(f"N = {self.n} needs {needed} held-out images for {what}; this run holds out {n_heldout}: "
                             f"use --n {n_heldout // (2 if self.reconstruction else 1)} or less, or retrain with "
                             f"aegen train --heldout-size {needed}")
        if n_train < self.n:
            raise AegenError(f"N = {self.n} exceeds the {n_train} training images of this run")
        self.heldout_index_ = subset_indices(n_heldout, self.n, self.seeds_["heldout-reference"])
        self.train_index_ = subset_indices(n_train, self.n, self.seeds_["train-reference"])
        rest = np.setdiff1d(np.arange(n_heldout), self.heldout_index_)
        # The probe: held-out items outside both sides of the copying tests, which set their
        # per-item threshold and fit the latent metric. They are the reconstruction row's
        # originals (chosen also when that row is not scored, so the sides do not depend on it),
        # or every held-out item outside the reference where there is no room for N of them.
        self.probe_index_ = (rest[subset_indices(len(rest), self.n, self.seeds_["reconstruction"])]
                             if len(rest) >= self.n else rest)
        self.reconstruction_index_ = self.probe_index_ if self.reconstruction else np.zeros(0, dtype=np.int64)
        self.copy_heldout_index_ = np.setdiff1d(np.arange(n_heldout), self.probe_index_)

    def _setup_extractors(self) -> None:
        try:
            self.extractor_ = make_features(self.features, batch_size=self.batch_size, progress=self.progress,
                                            mode=self.feature_mode)
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

    def _cached(self, kind: str, split: str, index: np.ndarray, seed: int, extractor_id: str, compute, **extra) -> np.ndarray:
        key = {"kind": kind, "split": split, "n": int(len(index)), "n_split": self.split_sizes_[split],
               "seed": int(seed), "image_size": int(self.run_.image_size), "extractor": extractor_id, **extra}
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
        reference, train = self.heldout_features_.astype(np.float64), self.train_features_.astype(np.float64)
        self.reference_gram_, self.train_gram_ = reference @ reference.T, train @ train.T

    def _memorisation_index(self) -> None:
        neighbours = NearestTrainingImage(self.memorisation_size, progress=self.progress)
        all_train = np.arange(self.split_sizes_["train"])
        side = min(self.memorisation_size, self.run_.image_size)
        pixels = self._cached("pixels", "train", all_train, 0, f"box-{side}-uint8",
                              lambda: neighbours.pixels(self._split_images("train")))
        self.neighbours_ = neighbours.fit_pixels(pixels)
        self.copy_cells_ = int(np.clip(self.n // 50, 1, MAX_COPY_CELLS))
        self.train_cells_ = self._cached("copy-cells", "train", all_train, self.seeds_["copy-cells"], f"box-{side}-kmeans",
                                         lambda: neighbours.cluster(self.copy_cells_, self.seeds_["copy-cells"]),
                                         cells=self.copy_cells_)
        self.heldout_nn_, index = self.neighbours_.distances(self.heldout_ref_images_)
        self.heldout_cells_ = self.train_cells_[index]

    def copy_tests(self, mirrored: bool) -> tuple[CopyingTest, LatentCopyGuard] | None:
        """The image and latent copying tests (built once each), or None when the probe is too small.

        Training side: every training item; held-out side: every held-out item but the probe
        (see :meth:`_choose_subsets`); probe: the per-item threshold and the latent metric.
        ``mirrored`` adds every item's mirror image to both sides (for samplers fitted on the
        mirrored training faces; the run needs ``aegen encode --mirrored``).
        """
        if mirrored in self._copy_tests:
            return self._copy_tests[mirrored]
        if len(self.probe_index_) < 2:
            self.skipped_["copy_z"] = (f"no held-out items left outside the reference subset for the copying tests' "
                                       f"probe (N = {self.n} of {self.split_sizes_['heldout']})")
            self._copy_tests[mirrored] = None
            return None
        side = min(self.memorisation_size, self.run_.image_size)
        neighbours = NearestTrainingImage(self.memorisation_size, progress=False)
        all_train = np.arange(self.split_sizes_["train"])
        heldout = self._split_images("heldout")
        seed = self.seeds_["reconstruction"]
        heldout_pixels = self._cached("pixels", "heldout", self.copy_heldout_index_, seed, f"box-{side}-uint8",
                                      lambda: neighbours.pixels(np.asarray(heldout[self.copy_heldout_index_])))
        z_train = np.asarray(self.run_.zpoints("train"), dtype=np.float32)
        z_heldout_side = self.z_heldout_all_[self.copy_heldout_index_]
        if mirrored:
            train_pixels = np.concatenate([self.neighbours_.train_pixels_, self._cached(
                "pixels-mirrored", "train", all_train, 0, f"box-{side}-uint8",
                lambda: neighbours.pixels(np.ascontiguousarray(self._split_images("train")[:, :, ::-1])))])
            heldout_pixels = np.concatenate([heldout_pixels, self._cached(
                "pixels-mirrored", "heldout", self.copy_heldout_index_, seed, f"box-{side}-uint8",
                lambda: neighbours.pixels(np.ascontiguousarray(heldout[self.copy_heldout_index_][:, :, ::-1])))])
            train_side = NearestTrainingImage(self.memorisation_size, progress=self.progress).fit_pixels(train_pixels)
            z_train = np.concatenate([z_train, np.asarray(self.run_.mirrored_zpoints(), dtype=np.float32)])
            z_heldout_side = np.concatenate([z_heldout_side, self._cached(
                "zpoints-mirrored", "heldout", self.copy_heldout_index_, seed, f"encoder-{self._checkpoint_stamp()}",
                lambda: self.run_.encode_images(np.ascontiguousarray(heldout[self.copy_heldout_index_][:, :, ::-1]),
                                                progress=self.progress))])
        else:
            train_side = self.neighbours_
        heldout_side = NearestTrainingImage(self.memorisation_size, progress=False).fit_pixels(heldout_pixels)
        image_test = CopyingTest().fit(train_side, heldout_side, np.asarray(heldout[self.probe_index_]))
        latent_guard = LatentCopyGuard().fit(self.z_heldout_all_[self.probe_index_], z_train, z_heldout_side)
        self._copy_tests[mirrored] = (image_test, latent_guard)
        if mirrored:
            self._images.clear()  # built after fit() for the first mirrored row: the images are not needed again
        return self._copy_tests[mirrored]

    def _checkpoint_stamp(self) -> list:
        """Name, size and modification time of the run's checkpoint: in every key of data it decodes or encodes."""
        checkpoint = self.run_.path / CHECKPOINT
        return [CHECKPOINT, checkpoint.stat().st_size, checkpoint.stat().st_mtime_ns] if checkpoint.exists() else []

    def _describe_copy_tests(self, latent: bool = False) -> dict | None:
        tests = self._copy_tests.get(False)
        if tests is None:
            return None
        what = tests[1].describe() if latent else tests[0].describe()
        return {**what, "sides": ("all training items vs every held-out item outside the probe (the reconstruction "
                                  "row's originals); with their mirror images for samplers fitted on mirrored points"),
                "flag": "z < -3 with excess >= 0.5, over all items or over the near items"}

    def _reference_faces(self) -> None:
        if self.detector_ is None:
            return
        found = self._cached("faces", "heldout", self.heldout_index_, self.seeds_["heldout-reference"], self.detector_.id,
                             lambda: self.detector_.detect(self.heldout_ref_images_, desc="faces (held-out)"))
        self.heldout_faces_ = found.astype(bool)

    # -- scoring -----------------------------------------------------------------------
    def score(self, method: str, Z: list[np.ndarray], images: list[np.ndarray], kind: str = "sampler",
              params: dict | None = None, against: str = "heldout", notes: list[str] | None = None,
              heldout_itself: bool = False, features: list[np.ndarray] | None = None,
              latent_self_match: str | None = None) -> ScoredSet:
        """Score sets of generated images (n, S, S, 3) uint8 decoded from Z (n, d), one per repeat.

        against: 'heldout' (the held-out reference subset) or 'train' (the training reference
        subset, for the 'real' row). heldout_itself: the images are the held-out reference
        images, whose features, detections and distances are already known. features: the
        sets' features when already known (from the cache). latent_self_match: why the latent
        copying guard does not apply to Z (reported instead of a score). The copying tests put
        mirrored items on both sides when ``params`` fit the sampler on mirrored points.
        """
        mirrored = (params or {}).get(FIT_ON) == "train+mirrored"
        row = {"method": method, "kind": kind, "params": dict(params or {}), "n": int(len(images[0])),
               "repeats": len(images), "sets": len(images)}
        notes = list(notes or [])
        timings: dict[str, float] = {}

        def stage(name, compute):
            start = time.perf_counter()
            result = compute()
            timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - start, 3)
            return result

        row.update(dict.fromkeys(FEATURE_METRICS))
        if self.extractor_ is not None:
            if heldout_itself:
                features = [self.heldout_features_]
            elif features is None:
                features = [stage("features", lambda: self.extractor_.transform(x, desc=f"features ({method})")) for x in images]
            per_repeat = [stage("feature metrics", lambda: self._feature_metrics(against, f, notes)) for f in features]
            for name in FEATURE_METRICS:
                row[f"{name}_repeats"] = [r.get(name) for r in per_repeat]
        row["face_rate"] = None
        if self.detector_ is not None:
            found = [self.heldout_faces_] if heldout_itself else [
                stage("faces", lambda: self.detector_.detect(x, desc=f"faces ({method})")) for x in images]
            found = np.concatenate(found)
            row["faces_found"], row["faces_tested"] = int(found.sum()), int(found.size)
        nn, index = (self.heldout_nn_, None) if heldout_itself else stage(
            "memorisation", lambda: self.neighbours_.distances(images[0]))
        row.update(memorisation_summary(nn, self.heldout_nn_))
        cells = self.heldout_cells_ if index is None else self.train_cells_[index]
        row.update(data_copying_test(nn, cells, self.heldout_nn_, self.heldout_cells_))
        Z_all = np.concatenate(Z)
        row.update(self.ellipsoid_.summary(Z_all))
        tests = None if heldout_itself else self.copy_tests(mirrored)  # the held-out reference is in a side
        if tests is not None:
            image_test, latent_guard = tests
            n_train = self.split_sizes_["train"]
            # The training side without mirrors is the memorisation index: its distances are known.
            known = (nn, index) if index is not None and image_test.train_side_ is self.neighbours_ else None
            row.update(_unmirror(stage("copying test", lambda: image_test.test(images[0], known)), "copy_", n_train))
            if latent_self_match:
                row.update(latent_copy_z=None, latent_copy_applicable=False, latent_copy_note=latent_self_match)
            else:
                row.update(_unmirror(stage("latent copying test", lambda: latent_guard.test(Z[0])), "latent_copy_",
                                     n_train))
            row["copy_sides"] = {"items": "train+mirrored" if mirrored else "train", "train": image_test.n_train_,
                                 "heldout": image_test.n_heldout_}
        row.update(self._provenance(against))
        row["seconds"] = timings
        row["notes"] = notes
        scored = ScoredSet(row=row, radii=self.ellipsoid_.radius(Z_all), nn_distances=nn, images=images[0],
                           features=list(features or []))
        self.scored_.append(scored)
        return scored

    def _feature_metrics(self, against: str, fake: np.ndarray, notes: list[str]) -> dict:
        heldout = against == "heldout"
        scores, note = feature_scores(self.heldout_features_ if heldout else self.train_features_, fake,
                                      self.reference_gram_ if heldout else self.train_gram_, self.pr_k, self.dc_k)
        notes.extend([note] if note else [])
        return scores

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

    def _generated_features(self, name: str, params: dict, seed: int, compute) -> np.ndarray:
        """Features of one sample set, cached so that an interrupted evaluation resumes."""
        if self.extractor_ is None:
            return compute()
        # Decoder weights and fitted z-points are in the key: a retrained run never reuses old features.
        zfile = self.run_.path / "zpoints" / "train.npy"
        key = {"kind": "generated", "method": name, "params": params, "n": self.n, "seed": int(seed),
               "image_size": int(self.run_.image_size), "extractor": self.extractor_.id,
               "checkpoint": self._checkpoint_stamp(), "zpoints": [zfile.stat().st_size, zfile.stat().st_mtime_ns]}
        return self.cache_.get_or_compute(key, compute)

    def fit_states(self, name: str, params: dict) -> list[int | None]:
        """The random_state of each fit of sampler row ``name``: [None] for one fit with the sampler's own.

        With ``fit_seeds`` K > 1, K derived seeds for samplers whose fit is random; [None] for
        those with a deterministic fit (a refit is the same fit). AegenError when ``params`` set
        random_state themselves.
        """
        if self.fit_seeds == 1:
            return [None]
        from aegen.sample import split_fit_on
        from aegen.samplers.registry import make_sampler

        if "random_state" in params:
            raise AegenError(f"{name}: --fit-seeds {self.fit_seeds} sets each fit's random_state; "
                             "drop random_state from its parameters")
        if "random_state" not in make_sampler(sampler_of(name), **split_fit_on(params)[1]).get_params():
            return [None]
        return list(self.seeds_["fits"])

    def evaluate_method(self, name: str, params: dict | None = None) -> ScoredSet:
        """Fit sampler ``name`` to the training z-points (once per fit seed); draw, decode and score
        ``repeats`` sets of n per fit (sampler seeds ``seed + k * repeats + r`` for fit k, set r)."""
        params = dict(params or {})
        start = time.perf_counter()
        states = self.fit_states(name, params)
        samplers = [fit_method(self.run_, name, params if state is None else {**params, "random_state": state},
                               progress=self.progress) for state in states]
        fitted = time.perf_counter()
        Z, images, features, seeds, set_fits = [], [], [], [], []
        for k, (sampler, state) in enumerate(zip(samplers, states)):
            fit_params = params if state is None else {**params, "random_state": state}
            for r in range(self.repeats):
                seed = self.seed + k * self.repeats + r
                fit_text = f", fit {k + 1}/{len(states)} (random_state {state})" if state is not None else ""
                self._say(f"{name}: sample set {r + 1}/{self.repeats} (seed {seed}){fit_text}")
                Z.append(self._sample(sampler, name, params, seed))
                images.append(self.run_.decode(Z[-1], progress=self.progress))
                seeds.append(seed)
                set_fits.append(k)
                if self.extractor_ is not None:
                    features.append(self._generated_features(
                        name, fit_params, seed, lambda: self.extractor_.transform(images[-1], desc=f"features ({name})")))
        decoded = time.perf_counter()
        notes = []
        if self.fit_seeds > 1 and states == [None]:
            notes.append("deterministic fit: one fit stands for every fit seed")
        scored = self.score(name, Z, images, kind="sampler", params=params, features=features or None, notes=notes)
        scored.row["sampler_seeds"] = seeds
        scored.row["fit_seeds"] = states if states != [None] else None
        scored.row["fits"] = len(states)
        scored.row["repeats"] = self.repeats
        scored.set_fits = set_fits if len(states) > 1 else None
        scored.row.update(self._loglik(samplers, scored))
        scored.row["seconds"] = {"fit": round(fitted - start, 3), "sample and decode": round(decoded - fitted, 3),
                                 **scored.row["seconds"], "total": round(time.perf_counter() - start, 3)}
        return scored

    def _loglik(self, samplers: list, scored: ScoredSet) -> dict:
        """Held-out latent log-likelihood, averaged over the fits (each fit's mean kept beside it)."""
        results = [latent_loglik(sampler, self.z_heldout_all_) for sampler in samplers]
        summary, scored.loglik_values = results[0]
        if len(results) > 1 and all(values is not None for _, values in results):
            per_fit = [float(values.mean()) for _, values in results]
            scored.loglik_values = np.mean([values for _, values in results], axis=0)
            summary = {**summary, "latent_loglik": float(scored.loglik_values.mean()), "latent_loglik_fits": per_fit,
                       "latent_loglik_se": float(scored.loglik_values.std(ddof=1) / np.sqrt(scored.loglik_values.size))}
        return summary

    def _sample(self, sampler, name: str, params: dict, seed: int) -> np.ndarray:
        try:
            Z = np.asarray(sampler.sample(self.n, random_state=seed), dtype=np.float32)
        except (ValueError, TypeError) as exc:
            raise AegenError(f"{name} with {params or 'default parameters'}: {exc}") from None
        if Z.shape != (self.n, self.run_.z_dim):
            raise AegenError(f"{name} returned shape {Z.shape}, expected {(self.n, self.run_.z_dim)}")
        return Z

    def evaluate_reference(self, name: str) -> ScoredSet:
        """Score a reference row: 'reconstruction' or 'real' (see :mod:`aegen.evaluate.methods`)."""
        if name not in REFERENCE_ROWS:
            raise ValueError(f"reference rows are {REFERENCE_ROWS}, got {name!r}")
        start = time.perf_counter()
        self._say(f"{name}: reference row")
        if name == RECONSTRUCTION:
            if not self.reconstruction:
                raise AegenError("this evaluation kept no held-out images for the reconstruction row")
            Z = self.z_heldout_recon_
            scored = self.score(name, [Z], [self.run_.decode(Z, progress=self.progress)], kind="reference",
                                notes=[f"{len(Z)} held-out images (disjoint from the reference set) encoded and decoded"],
                                latent_self_match="its vectors are the probe z-points that fit the latent metric")
        else:
            scored = self.score(name, [self.z_heldout_ref_], [self.heldout_ref_images_], kind="reference", against="train",
                                notes=["held-out real images scored against training images"], heldout_itself=True)
        scored.row["seconds"]["total"] = round(time.perf_counter() - start, 3)
        return scored

    def finish(self, rows: list[dict] | None = None) -> dict:
        """Intervals for every scored row (in place) and the paired differences; see :func:`finish_rows`."""
        return finish_rows(self, self.scored_, rows)

    def _say(self, message: str) -> None:
        if self.progress:
            print(f"aegen evaluate: {message}", file=sys.stderr, flush=True)

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
            "n": self.n, "seed": self.seed, "repeats": self.repeats, "fit_seeds": self.fit_seeds,
            "bootstrap": self.bootstrap,
            "seeds": self.seeds_, "image_size": int(self.run_.image_size),
            "z_dim": int(self.run_.z_dim), "split_sizes": self.split_sizes_, "split_rule": getattr(self.run_, "split_rule", None),
            "reference": {"split": "heldout", "n": int(len(self.heldout_index_)), "seed": self.seeds_["heldout-reference"],
                          "chosen": "a seeded subset of the held-out split (identity-disjoint from training)",
                          "n_train_reference": int(len(self.train_index_)),
                          "reconstruction_rows": int(len(self.reconstruction_index_)),
                          "reconstruction_disjoint_from_reference": True},
            "features": ext.describe() if ext is not None else None,
            "fid": {"computation": "exact, from Gram matrices (aegen.evaluate.intervals.fid_from_gram)",
                    "note": f"FID is biased upward at small N; here N = {self.n}; see fid_inf where computed"},
            "kid": {"kernel": "(x.y/D + 1)^3", "estimator": "unbiased MMD^2 on the full sets of each repeat"},
            "intervals": {"repeats": "t interval over the repeats' values (reference set fixed)",
                          "bootstrap": f"{self.bootstrap} replicates resampling reference and pooled generated images; "
                                       "normal interval estimate ± 1.96 sd", "level": 0.95},
            "precision_recall": {"k": self.pr_k, "reference": "Kynkaanniemi et al. 2019", "features": "Inception pool-3, not VGG-16"},
            "density_coverage": {"k": self.dc_k, "reference": "Naeem et al. 2020"},
            "face_detection": det.describe() if det is not None else None,
            "memorisation": {"space": f"box-downsampled pixels, {min(self.memorisation_size, self.run_.image_size)} px side, "
                                      "rounded to 8 bits, values in [0, 1]", "distance": "RMS per pixel channel",
                             "training_images": self.split_sizes_["train"],
                             "copying_test": self._describe_copy_tests(),
                             "meehan": f"Meehan et al. 2020: Z_U and C_T over {self.copy_cells_} k-means cells"},
            "latent_check": {**self.ellipsoid_.describe(), "copy_guard": self._describe_copy_tests(latent=True)},
            "reference_values": self.reference_values(),
            "skipped": dict(self.skipped_),
            "cache": {"folder": str(self.cache_.folder), "hits": self.cache_.hits, "misses": self.cache_.misses},
            "timings_s": dict(self.timings_),
            "versions": self.versions_,
        }


def feature_scores(reference: np.ndarray, fake: np.ndarray, reference_gram: np.ndarray | None = None,
                   pr_k: int = 3, dc_k: int = 5) -> tuple[dict, str | None]:
    """FID, KID, precision, recall, density and coverage of one generated set, and a note on what was skipped.

    FID and KID come from the Gram blocks (:class:`~aegen.evaluate.intervals.GramPair`) that the
    bootstrap resamples for their intervals: a value and its interval are one computation.
    KID is the unbiased MMD^2 of the full sets, which involves no random choice.
    """
    with metrics.single_threaded_lapack():
        pair = GramPair(reference, fake, reference_gram)
        out = {"fid": pair.fid(), "kid": pair.kid()}
    try:
        out.update(metrics.fidelity_diversity(reference, fake, pr_k=pr_k, dc_k=dc_k))
    except ValueError as exc:
        return out, f"precision/recall/density/coverage skipped: {exc}"
    return out, None


def _unmirror(result: dict, prefix: str, n_train: int) -> dict:
    """Listed copies of the mirrored half of a side (index >= n_train) named as mirrored items."""
    for item in result.get(f"{prefix}items", []):
        if item["train"] >= n_train:
            item["train"] -= n_train
            item["mirrored"] = True
    return result
