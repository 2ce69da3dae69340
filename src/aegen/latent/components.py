"""Number distributions of the individual z-vector components."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from aegen.latent.checks import CHUNK_ROWS, iter_chunks
from aegen.latent.moments import CloudMoments

# Histograms span mean +- this many std (cut to the data's range): wide enough for the
# tails, narrow enough that one outlier does not squeeze the bulk into a few bins.
HISTOGRAM_SPAN_STD = 5.0


@dataclass
class ComponentHistograms:
    """Histograms of all d components over all N points.

    edges: (d, n_bins + 1); counts: (d, n_bins) int64; outside: (d,) points beyond the
    histogram's span; n_points: N.
    """

    edges: np.ndarray
    counts: np.ndarray
    outside: np.ndarray
    n_points: int

    def gaussian_counts(self, moments: CloudMoments, n_grid: int = 100) -> tuple[np.ndarray, np.ndarray]:
        """Fitted Gaussians in count units: x (d, n_grid) and expected counts per bin (d, n_grid)."""
        lo, hi = self.edges[:, :1], self.edges[:, -1:]
        x = lo + (hi - lo) * np.linspace(0.0, 1.0, n_grid)[None, :]
        std = moments.std[:, None]
        width = (hi - lo) / self.counts.shape[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            density = np.exp(-0.5 * ((x - moments.mean[:, None]) / std) ** 2) / (np.sqrt(2 * np.pi) * std)
        return x, np.nan_to_num(density * width * self.n_points)


def component_histograms(Z: np.ndarray, moments: CloudMoments, n_bins: int = 40,
                         chunk_rows: int = CHUNK_ROWS, progress: bool = False) -> ComponentHistograms:
    """Histogram every column of ``Z`` (N, d) in one chunked pass (all points, bounded memory)."""
    moments.require(2, "component histograms")
    if n_bins < 2:
        raise ValueError(f"n_bins must be >= 2, got {n_bins}")
    n, d = Z.shape
    std = moments.std
    lo = np.maximum(moments.minimum, moments.mean - HISTOGRAM_SPAN_STD * std)
    hi = np.minimum(moments.maximum, moments.mean + HISTOGRAM_SPAN_STD * std)
    # Constant components still get a (tiny) span so that their single spike is drawn.
    flat = hi <= lo
    lo[flat] -= 0.5
    hi[flat] += 0.5
    width = (hi - lo) / n_bins
    counts = np.zeros(d * n_bins, dtype=np.int64)
    outside = np.zeros(d, dtype=np.int64)
    offsets = np.arange(d) * n_bins
    for start, stop in tqdm(list(iter_chunks(n, chunk_rows)), desc="histograms", unit="chunk",
                            disable=not progress, leave=False):
        x = np.asarray(Z[start:stop], dtype=np.float64)
        bins = np.floor((x - lo) / width).astype(np.int64)
        # The right edge belongs to the last bin, as in np.histogram.
        bins[x == hi] = n_bins - 1
        inside = (bins >= 0) & (bins < n_bins)
        outside += (~inside).sum(axis=0)
        flat_index = (bins + offsets)[inside]
        counts += np.bincount(flat_index, minlength=d * n_bins)
    edges = lo[:, None] + width[:, None] * np.arange(n_bins + 1)[None, :]
    return ComponentHistograms(edges=edges, counts=counts.reshape(d, n_bins), outside=outside, n_points=n)


def component_summary(moments: CloudMoments) -> dict:
    """Per-component mean, std, skewness and excess kurtosis (lists of d) and their ranges."""
    moments.require(2, "per-component standard deviations")
    std = moments.std
    return {
        "n_points": moments.n,
        "mean": moments.mean.tolist(),
        "std": std.tolist(),
        "skewness": moments.skewness.tolist(),
        "excess_kurtosis": moments.excess_kurtosis.tolist(),
        "mean_range": [float(moments.mean.min()), float(moments.mean.max())],
        "std_range": [float(std.min()), float(std.max())],
        "n_constant_components": int(np.count_nonzero(std == 0)),
    }

