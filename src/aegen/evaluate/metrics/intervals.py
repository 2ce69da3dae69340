"""Uncertainty of evaluation figures: FID and KID from Gram matrices, repeats, bootstrap, FID∞.

FID and KID of any subsets (with or without repeated rows) of two feature sets need only
inner products: with real features R (n, D) and generated features G (m, D), the Gram blocks
``R R'``, ``G G'`` and ``R G'`` give the means' distance, the covariance traces and
``tr sqrt(S_r S_g)`` (the singular values of the doubly centred cross block, see
:func:`fid_from_gram`), and KID's polynomial kernel is a function of the same products.
:class:`GramPair` computes the blocks once; every repeat, bootstrap replicate and FID_n of the
extrapolation then costs one small eigendecomposition instead of a pass over the features.

Intervals (95% by default), each labelled by what it covers:

- over repeats: R independent sample sets of one method (different sampler seeds) scored
  against the same reference set; a t interval of their mean. It covers the noise of the
  generated set only.
- bootstrap: B replicates that resample the reference images and the method's pooled
  generated images with replacement; the normal interval ``estimate ± z·sd(replicates)``.
  It covers the noise of both sets. Replicates with repeated images are biased upward, so
  their spread, not their centre, is used.
- paired differences: two rows scored with the same bootstrap resamples of the reference set
  (:func:`paired_differences`); a difference is significant when its interval excludes 0.
- FID∞ (Chong & Forsyth, CVPR 2020): FID_n at several n (both sets subsampled to n without
  replacement), a least-squares line against 1/n, and its intercept with a t interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, stats

from aegen.evaluate.metrics.distances import mmd2_unbiased

LEVEL = 0.95


def fid_from_gram(g_rr: np.ndarray, g_ff: np.ndarray, g_rf: np.ndarray) -> float:
    """FID from Gram blocks: g_rr (n, n) = R R', g_ff (m, m) = G G', g_rf (n, m) = R G'.

    With centred features A, B the covariances are A'A / (n-1) and B'B / (m-1), and
    tr sqrt(S_r S_g) is the sum of singular values of A B' over sqrt((n-1)(m-1)); A B' is the
    doubly centred g_rf. Equal to :func:`aegen.evaluate.metrics.distances.fid_from_features` to round-off.
    Loops of many calls run fastest inside :func:`aegen.evaluate.metrics.distances.single_threaded_lapack`
    (entered once: entering it costs milliseconds).
    """
    n, m = g_rf.shape
    if n < 2 or m < 2 or g_rr.shape != (n, n) or g_ff.shape != (m, m):
        raise ValueError(f"Gram blocks do not match: {g_rr.shape}, {g_ff.shape}, {g_rf.shape}")
    mean_rr, mean_ff, mean_rf = g_rr.mean(), g_ff.mean(), g_rf.mean()
    mean_distance_sq = mean_rr + mean_ff - 2.0 * mean_rf
    trace_r = (np.trace(g_rr) - n * mean_rr) / (n - 1)
    trace_f = (np.trace(g_ff) - m * mean_ff) / (m - 1)
    cross = g_rf - g_rf.mean(axis=1, keepdims=True) - g_rf.mean(axis=0, keepdims=True) + mean_rf
    small = cross @ cross.T if n <= m else cross.T @ cross
    eigenvalues = linalg.eigvalsh(small, check_finite=False)
    # The eigenvalues are squared singular values: round-off on the (many, when D < n) zero ones
    # would add sqrt(eps * largest) each, so values at round-off level count as zero.
    eigenvalues[eigenvalues < eigenvalues.max() * max(n, m) * np.finfo(float).eps] = 0.0
    trace_sqrt = np.sqrt(eigenvalues).sum() / np.sqrt((n - 1) * (m - 1))
    return max(float(mean_distance_sq + trace_r + trace_f - 2.0 * trace_sqrt), 0.0)


def kid_from_gram(g_rr: np.ndarray, g_ff: np.ndarray, g_rf: np.ndarray, dim: int) -> float:
    """Unbiased MMD^2 with KID's kernel (x.y / dim + 1)^3, from the same Gram blocks."""
    def kernel(g):
        return (g / dim + 1.0) ** 3
    return mmd2_unbiased(kernel(g_ff), kernel(g_rr), kernel(g_rf).T)


class GramPair:
    """Gram blocks of a fixed reference set R (n, D) and a generated pool G (m, D).

    ``fid(ri, gi)`` and ``kid(ri, gi)`` score the rows ``ri`` of R against the rows ``gi``
    of G (index arrays, repeats allowed; None means all rows).
    """

    def __init__(self, reference: np.ndarray, generated: np.ndarray, reference_gram: np.ndarray | None = None):
        reference = np.asarray(reference, dtype=np.float64)
        generated = np.asarray(generated, dtype=np.float64)
        if reference.ndim != 2 or generated.ndim != 2 or reference.shape[1] != generated.shape[1]:
            raise ValueError(f"feature sets must be (n, D) and (m, D), got {reference.shape} and {generated.shape}")
        self.dim = reference.shape[1]
        self.g_rr = reference @ reference.T if reference_gram is None else reference_gram
        self.g_ff = generated @ generated.T
        self.g_rf = reference @ generated.T

    def _blocks(self, ri, gi):
        ri = np.arange(self.g_rr.shape[0]) if ri is None else np.asarray(ri)
        gi = np.arange(self.g_ff.shape[0]) if gi is None else np.asarray(gi)
        return self.g_rr[np.ix_(ri, ri)], self.g_ff[np.ix_(gi, gi)], self.g_rf[np.ix_(ri, gi)]

    def fid(self, ri=None, gi=None) -> float:
        return fid_from_gram(*self._blocks(ri, gi))

    def kid(self, ri=None, gi=None) -> float:
        return kid_from_gram(*self._blocks(ri, gi), self.dim)


@dataclass
class Interval:
    """An estimate with its interval and a label saying what the interval covers."""

    estimate: float
    low: float | None
    high: float | None
    label: str | None  # None where a file recorded no label (older metrics.json, plain values)

    def as_dict(self, prefix: str) -> dict:
        return {prefix: self.estimate, f"{prefix}_low": self.low, f"{prefix}_high": self.high}

    def excludes_zero(self) -> bool:
        return self.low is not None and (self.low > 0 or self.high < 0)


def mean_interval(values, level: float = LEVEL) -> Interval:
    """Mean of independent values with a Student-t interval (no interval for one value)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("need at least one value")
    mean = float(values.mean())
    if values.size < 2:
        return Interval(mean, None, None, "one sample set: no interval")
    half = float(stats.t.ppf(0.5 + level / 2, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size))
    return Interval(mean, mean - half, mean + half, f"{100 * level:g}% t interval over {values.size} repeats")


def bootstrap_interval(estimate: float, replicates, level: float = LEVEL) -> Interval:
    """Normal bootstrap interval: estimate ± z · sd(replicates)."""
    replicates = np.asarray(replicates, dtype=float)
    if replicates.size < 2:
        return Interval(float(estimate), None, None, "no bootstrap")
    half = float(stats.norm.ppf(0.5 + level / 2) * replicates.std(ddof=1))
    return Interval(float(estimate), float(estimate) - half, float(estimate) + half,
                    f"{100 * level:g}% normal bootstrap interval, {replicates.size} replicates")


def wilson_interval(successes: int, trials: int, level: float = LEVEL) -> Interval:
    """A proportion with its Wilson score interval."""
    if trials < 1:
        raise ValueError("need at least one trial")
    z = stats.norm.ppf(0.5 + level / 2)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return Interval(float(p), float(max(0.0, centre - half)), float(min(1.0, centre + half)),
                    f"{100 * level:g}% Wilson interval, {trials} images")


def bootstrap_draws(n_rows: int, size: int, replicates: int, seed: int) -> np.ndarray:
    """(replicates, size) row indices drawn with replacement from range(n_rows)."""
    return np.random.default_rng(seed).integers(0, n_rows, size=(replicates, size))


def cluster_bootstrap_draws(groups, size: int, replicates: int, seed: int) -> np.ndarray:
    """(replicates, size) row indices of a two-stage bootstrap: clusters first, then rows.

    groups (m,): the cluster of each row (e.g. the fit a generated image was drawn from). Each
    replicate draws as many clusters as there are, with replacement, then ``size`` rows with
    replacement from the rows of the drawn clusters (a cluster drawn twice counts twice), so the
    spread of its statistics holds the between-cluster variance (fit to fit) as well as the
    within-cluster one. One cluster gives the one-stage draws of :func:`bootstrap_draws`.
    """
    groups = np.asarray(groups)
    labels = np.unique(groups)
    if labels.size == 1:
        return bootstrap_draws(groups.size, size, replicates, seed)
    members = [np.flatnonzero(groups == label) for label in labels]
    rng = np.random.default_rng(seed)
    out = np.empty((replicates, size), dtype=np.int64)
    for b in range(replicates):
        chosen = rng.integers(0, labels.size, labels.size)
        slots = chosen[rng.integers(0, labels.size, size)]
        for cluster in np.unique(slots):
            where = slots == cluster
            out[b, where] = members[cluster][rng.integers(0, members[cluster].size, int(where.sum()))]
    return out


def paired_differences(names: list[str], estimates: dict[str, float], replicates: dict[str, np.ndarray],
                       repeat_values: dict[str, np.ndarray] | None = None, level: float = LEVEL) -> list[dict]:
    """Every pair (a, b) of rows: the difference a - b with its interval and whether it is significant.

    replicates[name] (B,): bootstrap replicates computed with the SAME reference resamples for
    every row, so the reference set's noise cancels as it does in the point estimates. Without
    replicates (B = 0), a Welch t interval over the rows' repeats is used when both have >= 2.
    """
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            diff = estimates[a] - estimates[b]
            if len(replicates.get(a, ())) > 1 and len(replicates.get(b, ())) > 1:
                interval = bootstrap_interval(diff, replicates[a] - replicates[b], level)
                interval.label = "paired " + interval.label
            elif repeat_values and len(repeat_values.get(a, ())) > 1 and len(repeat_values.get(b, ())) > 1:
                interval = welch_interval(repeat_values[a], repeat_values[b], level)
            else:
                interval = Interval(diff, None, None, "no interval")
            out.append({"a": a, "b": b, "difference": diff, "low": interval.low, "high": interval.high,
                        "significant": interval.excludes_zero(), "interval": interval.label})
    return out


def welch_interval(a, b, level: float = LEVEL) -> Interval:
    """Difference of two means (a - b) with a Welch t interval."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = np.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va * va / (a.size - 1) + vb * vb / (b.size - 1)) if se > 0 else 1.0
    diff = float(a.mean() - b.mean())
    half = float(stats.t.ppf(0.5 + level / 2, dof) * se)
    return Interval(diff, diff - half, diff + half, f"{100 * level:g}% Welch t interval over repeats")


def fid_infinity(sizes, values, level: float = LEVEL) -> dict:
    """FID∞ after Chong & Forsyth: least squares FID_n = FID∞ + slope / n, with a t interval.

    sizes (k,), values (k,): the n and FID_n of each point (several points per n allowed).
    Returns fid_inf, its interval, the slope and the fit's points.
    """
    sizes, values = np.asarray(sizes, dtype=float), np.asarray(values, dtype=float)
    if sizes.shape != values.shape or np.unique(sizes).size < 2:
        raise ValueError("FID∞ needs FID_n at two or more distinct n")
    x = 1.0 / sizes
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    residual_dof = len(values) - 2
    out = {"fid_inf": float(coef[0]), "slope": float(coef[1]), "n": sizes.astype(int).tolist(),
           "fid_n": values.tolist(), "fid_inf_low": None, "fid_inf_high": None}
    if residual_dof > 0:
        residuals = values - design @ coef
        sigma2 = residuals @ residuals / residual_dof
        se = float(np.sqrt(sigma2 * np.linalg.inv(design.T @ design)[0, 0]))
        half = float(stats.t.ppf(0.5 + level / 2, residual_dof) * se)
        out.update(fid_inf_low=out["fid_inf"] - half, fid_inf_high=out["fid_inf"] + half,
                   interval=f"{100 * level:g}% t interval of the intercept, {len(values)} points")
    return out


def fid_infinity_sizes(n_max: int, points: int = 5, n_min: int | None = None) -> list[int]:
    """Sizes n for FID∞, evenly spaced in 1/n from n_min (default n_max / 4) to n_max."""
    n_min = max(2, n_max // 4) if n_min is None else n_min
    if n_max < 2 or n_min > n_max:
        raise ValueError(f"FID∞ needs n_max >= n_min >= 2, got {n_min}, {n_max}")
    inverse = np.linspace(1.0 / n_min, 1.0 / n_max, points)
    return sorted({int(round(1.0 / v)) for v in inverse})
