"""The evaluator: scores sets of z-vectors of one run against its references.

:class:`Evaluator` prepares the :class:`~aegen.evaluate.protocol.references.References` once
and then scores any number of rows against them; :meth:`Evaluator.finish` adds the intervals
that need every row at once (:mod:`~aegen.evaluate.protocol.summary`).
"""

from __future__ import annotations

import sys
import time
from functools import partial

import numpy as np
from sklearn.exceptions import NotFittedError

from aegen import AegenError
from aegen.evaluate.metrics.scores import FEATURE_METRICS, feature_scores
from aegen.evaluate.protocol.methods import RECONSTRUCTION, REFERENCE_ROWS
from aegen.evaluate.protocol.references import References, check_settings, timed
from aegen.evaluate.protocol.repeats import loglik_over_fits, sample_sets
from aegen.evaluate.protocol.rows import ScoredSet
from aegen.evaluate.protocol.summary import finish_rows
from aegen.sample import FIT_ON


class Evaluator:
    """Scores z-vectors of a run: decode, then compare with held-out real images.

    n: generated images per set and the size of the held-out reference. seed: the root of every
    seed (:mod:`~aegen.evaluate.protocol.seeds`). repeats: sample sets per sampler row and fit;
    fit_seeds: fits of each sampler whose fit is random (:mod:`~aegen.evaluate.protocol.repeats`).
    bootstrap: replicates for the intervals (0: over repeats only); fid_infinity: rows whose FID∞
    is extrapolated. reconstruction: keep N more held-out images for that row. features,
    feature_mode: see :func:`aegen.evaluate.features.extractors.make_features`. The arguments are
    checked in :meth:`fit`.
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

    def fit(self, run) -> "Evaluator":
        """Check the settings and prepare the references of ``run`` (an :class:`aegen.run.Run`)."""
        check_settings(**{name: getattr(self, name) for name in ("n", "seed", "repeats", "bootstrap", "batch_size",
                                                                 "fit_seeds")})
        self.references_ = References(
            self.n, self.seed, self.repeats, self.fit_seeds, self.features, self.feature_mode, self.faces,
            self.reconstruction, self.memorisation_size, self.batch_size, self.progress).prepare(run)
        self.scored_: list[ScoredSet] = []
        return self

    def score(self, method: str, Z: list[np.ndarray], images: list[np.ndarray], kind: str = "sampler",
              params: dict | None = None, against: str = "heldout", notes: list[str] | None = None,
              heldout_itself: bool = False, features: list[np.ndarray] | None = None,
              latent_self_match: str | None = None) -> ScoredSet:
        """Score sets of generated images (n, S, S, 3) uint8 decoded from Z (n, d), one per repeat.

        against: 'heldout' or 'train' (the training reference, for the 'real' row).
        heldout_itself: the images are the held-out reference images (features, faces and
        distances known). features: the sets' features when known (cached). latent_self_match:
        why the latent copying guard does not apply to Z. The copying tests put mirrored items on
        both sides when ``params`` fit the sampler on mirrored points.
        """
        refs, notes, timings = self._fitted(), list(notes or []), {}
        stage = partial(timed, timings)
        row = {"method": method, "kind": kind, "params": dict(params or {}), "n": int(len(images[0])),
               "repeats": len(images), "sets": len(images), **dict.fromkeys(FEATURE_METRICS), "face_rate": None}
        if refs.features is not None:
            if features is None:
                features = [refs.features.heldout] if heldout_itself else [
                    stage("features", lambda: refs.extractor.transform(x, desc=f"features ({method})")) for x in images]
            reference, gram = refs.features.against(against)
            per_set = [stage("feature metrics", lambda: feature_scores(reference, f, gram, self.pr_k, self.dc_k))
                       for f in features]
            notes += [note for _, note in per_set if note]
            row.update({f"{name}_repeats": [s.get(name) for s, _ in per_set] for name in FEATURE_METRICS})
        if refs.detector is not None:
            found = np.concatenate([refs.heldout_faces] if heldout_itself else [
                stage("faces", lambda: refs.detector.detect(x, desc=f"faces ({method})")) for x in images])
            row["faces_found"], row["faces_tested"] = int(found.sum()), int(found.size)
        nn, index = (refs.heldout_nn, None) if heldout_itself else stage(
            "memorisation", lambda: refs.neighbours.distances(images[0]))
        row.update(refs.nearest_image_summary(nn, index))
        Z_all = np.concatenate(Z)
        row.update(refs.ellipsoid.summary(Z_all))
        if not heldout_itself:  # the held-out reference is one side of the copying tests
            row.update(refs.copying(images[0], Z[0], (nn, index), (params or {}).get(FIT_ON) == "train+mirrored",
                                    latent_self_match, stage))
        row.update(refs.provenance(against), seconds=timings, notes=notes)
        scored = ScoredSet(row=row, radii=refs.ellipsoid.radius(Z_all), nn_distances=nn, images=images[0],
                           features=list(features or []))
        self.scored_.append(scored)
        return scored

    def evaluate_method(self, name: str, params: dict | None = None) -> ScoredSet:
        """Fit sampler ``name``, draw ``repeats`` sets of n per fit and score them (see
        :mod:`~aegen.evaluate.protocol.repeats`)."""
        params, start = dict(params or {}), time.perf_counter()
        sets = sample_sets(self._fitted(), name, params, self.seed, self.repeats, self._say)
        notes = (["deterministic fit: one fit stands for every fit seed"]
                 if self.fit_seeds > 1 and sets.states == [None] else [])
        scored = self.score(name, sets.Z, sets.images, params=params, features=sets.features or None, notes=notes)
        scored.row.update(sets.row_fields(self.repeats))
        scored.set_fits = sets.set_fits if len(sets.states) > 1 else None
        loglik, scored.loglik_values = loglik_over_fits(sets.samplers, self.references_.z_heldout)
        scored.row.update(loglik)
        scored.row["seconds"] = {**sets.seconds, **scored.row["seconds"], "total": round(time.perf_counter() - start, 3)}
        return scored

    def evaluate_reference(self, name: str) -> ScoredSet:
        """Score a reference row: 'reconstruction' or 'real' (see :mod:`aegen.evaluate.protocol.methods`)."""
        if name not in REFERENCE_ROWS:
            raise ValueError(f"reference rows are {REFERENCE_ROWS}, got {name!r}")
        refs, start = self._fitted(), time.perf_counter()
        self._say(f"{name}: reference row")
        if name == RECONSTRUCTION:
            if not self.reconstruction:
                raise AegenError("this evaluation kept no held-out images for the reconstruction row")
            Z = refs.z_heldout_at("reconstruction")
            images = refs.run.decode(Z, progress=self.progress)
            scored = self.score(name, [Z], [images], kind="reference", features=refs.reconstruction_features(images),
                                notes=[f"{len(Z)} held-out images (disjoint from the reference set) encoded and decoded"],
                                latent_self_match="its vectors are the probe z-points that fit the latent metric")
        else:
            scored = self.score(name, [refs.z_heldout_at("heldout")], [refs.heldout_images], kind="reference",
                                against="train", notes=["held-out real images scored against training images"],
                                heldout_itself=True)
        scored.row["seconds"]["total"] = round(time.perf_counter() - start, 3)
        return scored

    def finish(self, rows: list[dict] | None = None) -> dict:
        """Intervals for every scored row (in place) and the paired differences; see :func:`finish_rows`."""
        return finish_rows(self.scored_, self._fitted().features, seed=self.seed, n=self.n,
                           bootstrap=self.bootstrap, fid_infinity=self.fid_infinity, rows=rows)

    def _fitted(self) -> References:
        if not hasattr(self, "references_"):
            raise NotFittedError("this Evaluator is not fitted: call fit(run) first")
        return self.references_

    def _say(self, message: str) -> None:
        if self.progress:
            print(f"aegen evaluate: {message}", file=sys.stderr, flush=True)
