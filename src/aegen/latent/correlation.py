"""Linear correlations between z-vector components."""

from __future__ import annotations

import numpy as np


def correlation_matrix(cov: np.ndarray) -> np.ndarray:
    """(d, d) Pearson correlations from a covariance (d, d); rows of constant components are NaN."""
    cov = np.asarray(cov, dtype=np.float64)
    std = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(std, std)
    corr[std == 0, :] = np.nan
    corr[:, std == 0] = np.nan
    corr = np.clip(corr, -1.0, 1.0)
    np.fill_diagonal(corr, np.where(std > 0, 1.0, np.nan))
    return corr


def top_correlated_pairs(corr: np.ndarray, k: int = 20) -> list[dict]:
    """The ``k`` component pairs (i < j) with the largest |r|, strongest first: dicts of i, j, r."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    i, j = np.triu_indices(corr.shape[0], k=1)
    r = corr[i, j]
    valid = np.isfinite(r)
    i, j, r = i[valid], j[valid], r[valid]
    order = np.argsort(-np.abs(r), kind="stable")[:k]
    return [{"i": int(i[o]), "j": int(j[o]), "r": float(r[o])} for o in order]


def correlation_summary(corr: np.ndarray, k: int = 20) -> dict:
    """Distribution of the off-diagonal correlations and the ``k`` strongest pairs."""
    i, j = np.triu_indices(corr.shape[0], k=1)
    r = corr[i, j]
    r = r[np.isfinite(r)]
    if len(r) == 0:
        return {"n_pairs": 0, "top_pairs": []}
    abs_r = np.abs(r)
    return {
        "n_pairs": int(len(r)),
        "mean_abs_r": float(abs_r.mean()),
        "median_abs_r": float(np.median(abs_r)),
        "max_abs_r": float(abs_r.max()),
        "fraction_abs_r_above": {f"{t:g}": float(np.mean(abs_r > t)) for t in (0.1, 0.2, 0.3, 0.5)},
        "top_pairs": top_correlated_pairs(corr, k),
    }
