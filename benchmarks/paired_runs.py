"""Paired FID differences between the rows of two runs evaluated on the same reference images.

    python benchmarks/paired_runs.py RUN_A RUN_B [--rows gmm,reconstruction]

Two autoencoders trained on the same data and split and evaluated with the same ``--seed``
and N score their rows against the same held-out reference subset, and ``aegen evaluate``
draws the same bootstrap resamples for both (every draw derives from the seed and the row's
label, :mod:`aegen.evaluate.protocol.summary`). This script recomputes each row's bootstrap
replicates from the evaluations' feature caches with those very draws, checks that they give
back the intervals metrics.json recorded, and reports RUN_A - RUN_B per row with the interval
of the replicates' differences: the reference set's noise cancels as it does within one
evaluation. The reconstruction row's features come from the cache where the evaluation kept
them (since 2026-12-07), else they are recomputed here (decode the row's held-out codes, same
extractor; checked by its FID). A row of several sets (``--repeats``) or fits (``--fit-seeds``)
is gathered from the cache set by set (each set's seed and its fit's random_state are in the
row's record) and resampled as the evaluation did: fits first, then images.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from aegen.evaluate.features.extractors import make_features
from aegen.evaluate.metrics.distances import single_threaded_lapack
from aegen.evaluate.metrics.intervals import GramPair, bootstrap_draws, bootstrap_interval, cluster_bootstrap_draws
from aegen.evaluate.protocol.methods import RECONSTRUCTION
from aegen.evaluate.protocol.rows import row_label
from aegen.evaluate.protocol.seeds import derive_seed, evaluation_seeds
from aegen.evaluate.protocol.subsets import choose_subsets
from aegen.run import Run


def cached_arrays(run: Path) -> list[tuple[dict, Path]]:
    """(key, .npy path) of every entry of the run's evaluation cache."""
    cache = run / "eval" / "cache"
    return [(json.loads(meta.read_text())["key"], meta.with_suffix(".npy")) for meta in sorted(cache.glob("*.json"))]


def find(entries, required: bool = True, **wanted) -> np.ndarray | None:
    """The one cached array whose key has the ``wanted`` values; None (or exit, if ``required``) when absent."""
    hits = [path for key, path in entries if all(key.get(k) == v for k, v in wanted.items())]
    if len(hits) == 1:
        return np.load(hits[0])
    if required or hits:
        raise SystemExit(f"expected one cached array with {wanted}, found {len(hits)}")
    return None


class Evaluation:
    """One run's metrics.json, its cached reference features and its rows' features."""

    def __init__(self, run: Path):
        self.run = run
        self.metrics = json.loads((run / "eval" / "metrics.json").read_text())
        self.protocol = self.metrics["protocol"]
        self.rows = {row_label(r["method"], r.get("params")): r for r in self.metrics["rows"]}
        self.entries = cached_arrays(run)
        seeds = self.protocol["seeds"]
        self.reference = find(self.entries, kind="features", split="heldout", seed=seeds["heldout-reference"],
                              n=self.protocol["reference"]["n"])

    def label(self, name: str) -> str:
        """The row label ``name`` names: a label, or a method with a single row (its label then carries
        its parameters, e.g. ``flow@gmm-base(base=gmm, ...)``)."""
        if name in self.rows:
            return name
        matches = [label for label, row in self.rows.items() if row["method"] == name]
        if len(matches) != 1:
            raise SystemExit(f"{self.run}: no single row {name!r}; rows: {', '.join(self.rows)}")
        return matches[0]

    def features(self, label: str) -> list[np.ndarray]:
        """The features of each of row ``label``'s sample sets, fit by fit (one set for reconstruction)."""
        row = self.rows[label]
        if row["method"] == RECONSTRUCTION:
            cached = find(self.entries, required=False, kind="generated", method=RECONSTRUCTION,
                          seed=self.protocol["seeds"]["reconstruction"], n=self.protocol["n"])
            # Evaluations cache these features since 2026-12-07; older ones are recomputed.
            return [self.reconstruction_features() if cached is None else cached]
        # The sets are recorded fit-major (fit 1 set 1, ..., fit K set R); older records have one set.
        set_seeds = row.get("sampler_seeds") or [self.protocol["seed"]]
        states, repeats = row.get("fit_seeds") or [None], row.get("repeats") or 1
        params = row.get("params") or {}
        return [find(self.entries, kind="generated", method=row["method"], seed=set_seed, n=self.protocol["n"],
                     params=params if states[i // repeats] is None else {**params,
                                                                         "random_state": states[i // repeats]})
                for i, set_seed in enumerate(set_seeds)]

    def reconstruction_features(self) -> np.ndarray:
        run, protocol = Run.open(self.run), self.protocol
        n_train, n_heldout = len(run.zpoints("train")), len(run.zpoints("heldout"))
        seeds = evaluation_seeds(protocol["seed"], protocol.get("repeats") or 1, protocol.get("fit_seeds") or 1)
        subsets = choose_subsets(protocol["n"], n_train, n_heldout, seeds)
        images = run.decode(np.asarray(run.zpoints("heldout"))[subsets.reconstruction], progress=False)
        extractor = make_features("inception", progress=False, mode=protocol["features"].get("mode", "fast"))
        if extractor.id != protocol["features"]["id"]:
            raise SystemExit(f"the extractor here ({extractor.id}) is not the evaluation's ({protocol['features']['id']})")
        return extractor.transform(images)

    def replicates(self, label: str) -> tuple[float, np.ndarray]:
        """(FID, bootstrap replicates) of row ``label``, with the evaluation's own draws.

        FID is the mean over the row's sets; the replicates pool the sets and draw N images
        from them, fits first (:func:`cluster_bootstrap_draws`), as the evaluation did.
        """
        seed, B, n = self.protocol["seed"], self.protocol["bootstrap"], self.protocol["n"]
        row = self.rows[label]
        sets = self.features(label)
        repeats = row.get("repeats") or 1
        fits = np.concatenate([np.full(len(f), i // repeats) for i, f in enumerate(sets)])
        pair = GramPair(self.reference, np.concatenate(sets))
        ref_draws = bootstrap_draws(len(self.reference), len(self.reference), B, derive_seed(seed, "bootstrap"))
        gen_draws = cluster_bootstrap_draws(fits, n, B, derive_seed(seed, f"bootstrap-{label}"))
        with single_threaded_lapack():
            ends = np.cumsum([len(f) for f in sets])
            fid = float(np.mean([pair.fid(None, np.arange(end - len(f), end)) for f, end in zip(sets, ends)]))
            values = np.array([pair.fid(ref_draws[b], gen_draws[b]) for b in range(B)])
        again = bootstrap_interval(fid, values)
        print(f"  {self.run.name} {label}: FID {fid:.3f} [{again.low:.3f}, {again.high:.3f}] from {len(sets)} set(s) "
              f"of {len(set(fits.tolist()))} fit(s), recorded {row['fid']:.3f} [{row['fid_low']:.3f}, "
              f"{row['fid_high']:.3f}]")
        if not np.allclose([fid, again.low, again.high], [row["fid"], row["fid_low"], row["fid_high"]], atol=1e-3):
            raise SystemExit(f"{self.run}: row {label} does not reproduce its recorded FID and interval from the "
                             "cache: these are not the evaluation's sets or draws")
        return fid, values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--rows", default="gmm,reconstruction",
                        help="row labels or methods (a method with one row), comma-separated")
    args = parser.parse_args()
    a, b = Evaluation(args.run_a), Evaluation(args.run_b)
    for key in ("seed", "n", "bootstrap"):
        if a.protocol[key] != b.protocol[key]:
            raise SystemExit(f"the evaluations differ in {key}: {a.protocol[key]} and {b.protocol[key]}")
    if not np.array_equal(a.reference, b.reference):
        raise SystemExit("the two evaluations do not share their reference images' features")
    print(f"reference: {len(a.reference)} held-out images shared, seed {a.protocol['seed']}, "
          f"{a.protocol['bootstrap']} replicates")
    for name in args.rows.split(","):
        label, label_b = a.label(name), b.label(name)
        if label_b != label:
            raise SystemExit(f"row {name!r} is {label} in {args.run_a} but {label_b} in {args.run_b}")
        fid_a, rep_a = a.replicates(label)
        fid_b, rep_b = b.replicates(label)
        diff = bootstrap_interval(fid_a - fid_b, rep_a - rep_b)
        verdict = "a finding" if diff.excludes_zero() else "not distinguishable"
        print(f"{label}: {args.run_a.name} - {args.run_b.name} = {diff.estimate:+.1f} "
              f"[{diff.low:+.1f}, {diff.high:+.1f}] ({verdict}; paired over the shared reference)")


if __name__ == "__main__":
    main()
