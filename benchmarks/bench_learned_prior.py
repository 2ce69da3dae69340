"""Latent-space check of the samplers: held-out log-likelihood and sample-vs-held-out distances.

    python benchmarks/bench_learned_prior.py --run runs/celeba64 [--methods gaussian gmm flow flow-matching]
        [--temperatures 1.0 0.9] [--n 5000] [--params '{"flow": {"epochs": 40}}'] [--mirrored] [--json out.json]
    python benchmarks/bench_learned_prior.py --synthetic      # a heavy-tailed 256-d stand-in cloud

Every method is fitted on the run's training z-points (``--mirrored``: plus the z-points of the
training faces flipped left to right, from ``aegen encode RUN --mirrored``, each face and its
mirror image on one side of a learned sampler's validation split) and judged against the
held-out z-points, in the whitened frame of the training cloud (Cholesky of its covariance):

- ``ll/dim``: mean held-out log density per dimension (nats), for methods with a density;
- ``FD``: Frechet distance between generated and held-out whitened vectors (first two moments
  only: the full Gaussian matches them by construction, so read it with the rest);
- ``C2ST``: accuracy of a gradient-boosting classifier telling generated from held-out vectors
  (whitened coordinates and radius; two-fold), 0.5 when it cannot tell them apart;
- ``P``/``R``: k-NN precision and recall (k = 3, :func:`aegen.evaluate.metrics.distances.fidelity_diversity`);
- ``KS r``: Kolmogorov-Smirnov distance between generated and held-out Mahalanobis radii;
- ``NN``, ``copy Z``: the median whitened distance to the nearest training z-point over that
  of held-out z-points (1 for a model that copies nothing), and the Mann-Whitney Z_U of the
  two sets of distances (far below 0: generated vectors sit nearer the training points than
  new data does: copying).

The row ``train points`` draws training z-points themselves (a perfect copy: what copying
looks like); ``held-out half`` compares one half of the held-out points with the other (the
noise floor of every distance at that size).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch
from scipy import linalg, stats

from aegen.evaluate.metrics.distances import fid_from_features, fidelity_diversity
from aegen.samplers import make_sampler
from aegen.samplers.learned import LearnedSampler


def synthetic_cloud(seed: int = 0, d: int = 256, n: int = 20_000) -> np.ndarray:
    """(n, d) z-points with a heavy-tailed radius, a hollow centre and bent, clustered axes."""
    rng = np.random.default_rng(seed)
    scale = np.exp(rng.normal(scale=0.25, size=(n, 1)))  # a scale mixture: heavier tails than a normal
    W = rng.standard_normal((n, d)) * scale
    W[:, 1] += 0.6 * (W[:, 0] ** 2 - 1.0)  # a bent pair of axes
    W[:, 2:6] += 1.5 * np.eye(4)[rng.integers(0, 4, n)]  # four clusters along four axes
    mixing = rng.normal(size=(d, d)) * np.geomspace(1.0, 0.05, d)
    return (W @ mixing.T * 0.1 + rng.normal(size=d)).astype(np.float32)


def c2st_accuracy(real: np.ndarray, fake: np.ndarray, seed: int = 0) -> float:
    """Two-fold classifier two-sample test accuracy on whitened vectors plus their radius."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(seed)
    m = min(len(real), len(fake))
    real, fake = real[rng.permutation(len(real))[:m]], fake[rng.permutation(len(fake))[:m]]
    X = np.concatenate([real, fake])
    X = np.concatenate([X, np.linalg.norm(X, axis=1, keepdims=True)], axis=1)
    y = np.r_[np.zeros(m), np.ones(m)]
    fold = np.r_[np.arange(m) % 2, np.arange(m) % 2]
    scores = []
    for k in (0, 1):
        model = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, random_state=seed)
        model.fit(X[fold == k], y[fold == k])
        scores.append(model.score(X[fold != k], y[fold != k]))
    return float(np.mean(scores))


class Frame:
    """The whitened frame of the training cloud: Cholesky of its covariance, nearest training points."""

    def __init__(self, train: np.ndarray, reference: np.ndarray):
        self.mean = train.mean(axis=0)
        self.chol = linalg.cholesky(np.cov(train, rowvar=False), lower=True)
        self.train = self.whiten(train).astype(np.float32)
        self.reference = self.whiten(reference)
        self.reference_radii = np.linalg.norm(self.reference, axis=1)
        self.reference_nn = self.nearest_training(self.reference)

    def whiten(self, Z: np.ndarray) -> np.ndarray:
        return linalg.solve_triangular(self.chol, (np.asarray(Z, dtype=float) - self.mean).T, lower=True).T

    def nearest_training(self, W: np.ndarray) -> np.ndarray:
        W = W.astype(np.float32)
        best = np.full(len(W), np.inf)
        for start in range(0, len(self.train), 4096):
            block = self.train[start:start + 4096]
            squared = (W**2).sum(1)[:, None] + (block**2).sum(1)[None, :] - 2.0 * W @ block.T
            best = np.minimum(best, squared.min(axis=1))
        return np.sqrt(np.clip(best, 0.0, None))


def judge(V: np.ndarray, frame: Frame) -> dict:
    white = frame.whiten(V)
    nn = frame.nearest_training(white)
    m, n = len(nn), len(frame.reference_nn)
    u = stats.mannwhitneyu(nn, frame.reference_nn, alternative="two-sided", method="asymptotic").statistic
    pr = fidelity_diversity(frame.reference, white[:len(frame.reference)])
    return {"FD": fid_from_features(frame.reference, white), "C2ST": c2st_accuracy(frame.reference, white),
            "P": pr["precision"], "R": pr["recall"],
            "KS r": float(stats.ks_2samp(np.linalg.norm(white, axis=1), frame.reference_radii).statistic),
            "NN": float(np.median(nn) / np.median(frame.reference_nn)),
            "copy Z": float((u - m * n / 2.0) / np.sqrt(m * n * (m + n + 1) / 12.0))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="an aegen run folder with z-points (aegen encode)")
    source.add_argument("--synthetic", action="store_true", help="a heavy-tailed 256-d stand-in cloud")
    parser.add_argument("--methods", nargs="+", default=["gaussian", "gmm", "flow", "flow-matching"],
                        help="methods, or METHOD@LABEL for a variant with its own --params entry")
    parser.add_argument("--temperatures", nargs="+", type=float, default=[1.0],
                        help="temperatures for the methods that have one")
    parser.add_argument("--n", type=int, default=5000, help="vectors generated per row")
    parser.add_argument("--params", default="{}", help='JSON {method or METHOD@LABEL: {parameter: value}}')
    parser.add_argument("--mirrored", action="store_true",
                        help="also fit on the mirrored training faces' z-points (aegen encode RUN --mirrored)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the CPU is shared)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    params = json.loads(args.params)

    if args.synthetic:
        cloud = synthetic_cloud(args.seed)
        train, heldout = cloud[:15_000], cloud[15_000:]
    else:
        from aegen.run import Run

        run = Run.open(args.run)
        train, heldout = np.asarray(run.zpoints("train")), np.asarray(run.zpoints("heldout"))
    fit_points, groups = train, None
    if args.mirrored:
        if args.synthetic:
            raise SystemExit("--mirrored needs --run")
        fit_points = np.concatenate([train, np.asarray(run.mirrored_zpoints())])
        groups = np.tile(np.arange(len(train)), 2)  # a face and its mirror image stay together
    print(f"{len(fit_points):,} fit points, {len(heldout):,} held-out, d = {train.shape[1]}", file=sys.stderr)

    frame = Frame(train, heldout)
    rng = np.random.default_rng(args.seed)
    rows = [{"method": "train points", **judge(train[rng.choice(len(train), args.n, replace=False)], frame)}]
    half = len(heldout) // 2
    rows.append({"method": "held-out half", **judge(heldout[half:], Frame(train, heldout[:half]))})
    for label in args.methods:
        method = label.split("@")[0]  # "flow@wide": the flow with the parameters given under that label
        sampler = make_sampler(method, **params.get(label, {}))
        start = time.perf_counter()
        sampler.fit(fit_points, groups=groups) if isinstance(sampler, LearnedSampler) else sampler.fit(fit_points)
        fit_s = time.perf_counter() - start
        has_temperature = "temperature" in sampler.get_params()
        for temperature in (args.temperatures if has_temperature else [None]):
            if has_temperature:
                sampler.temperature = temperature
            row = {"method": label, "T": temperature, "fit s": round(fit_s, 1), "params": params.get(label, {})}
            try:
                row["ll/dim"] = float(sampler.log_prob(heldout).mean() / train.shape[1])
            except NotImplementedError:
                row["ll/dim"] = None
            start = time.perf_counter()
            V = sampler.sample(args.n, random_state=args.seed + 1)
            row["sample s"] = round(time.perf_counter() - start, 2)
            row.update(judge(V, frame))
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)

    columns = ["method", "T", "ll/dim", "FD", "C2ST", "P", "R", "KS r", "NN", "copy Z", "fit s", "sample s"]
    print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in rows:
        cells = [row.get(c) for c in columns]
        text = ["" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v) for v in cells]
        print("| " + " | ".join(text) + " |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": vars(args), "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
