"""The seed's resolution problem: histogram FWHM of each PCA component against 2.3548 std."""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from aegen.latent.checks import InsufficientDataError
from aegen.latent.fwhm import gaussian_fwhm, histogram_fwhm
from aegen.latent.pca import LatentPCA

# Default bin width as a fraction of the widest PCA component's standard deviation: the
# leading components are resolved with 10 bins per std, the narrow tail is not.
DEFAULT_BINS_PER_LEADING_STD = 10
# The measurement counts as broken down where it misses 2.3548 std by more than this.
BREAKDOWN_RELATIVE_ERROR = 0.10
# Components whose histogram would need more bins than this are not measured.
MAX_BINS = 1_000_000


def default_bin_width(pca: LatentPCA) -> float:
    """Bin width used when none is given: the leading PCA std / 10."""
    return float(np.sqrt(pca.explained_variance_[0]) / DEFAULT_BINS_PER_LEADING_STD)


def pca_fwhm_table(Z: np.ndarray, pca: LatentPCA, bin_width: float | None = None,
                   block: int = 32, progress: bool = False) -> dict:
    """Histogram FWHM of every PCA component of ``Z`` (N, d) next to the Gaussian FWHM.

    PCA coordinates are computed ``block`` components at a time over all N points, so
    memory stays at N x block floats. Returns a dict of (d,) lists: ``std``,
    ``gaussian_fwhm`` (2.3548 std), ``histogram_fwhm``, ``relative_error``
    ((histogram - gaussian) / gaussian) and ``std_in_bins`` (std / bin width), plus
    ``bin_width``, ``n_points``, the breakdown threshold, the components past it, and
    ``breakdown_from_component``: the first of the trailing run of components that miss the
    Gaussian FWHM by more than the threshold (None if the narrowest component is measured
    well), with ``breakdown_std_in_bins`` the std in bins of the last good component.
    """
    if Z.shape[0] < 2:
        raise InsufficientDataError(f"FWHM needs at least 2 points, got {Z.shape[0]}")
    bin_width = default_bin_width(pca) if bin_width is None else float(bin_width)
    if not bin_width > 0:
        raise ValueError(f"bin_width must be > 0, got {bin_width}")
    d = pca.components_.shape[0]
    std = np.sqrt(pca.explained_variance_)
    measured = np.full(d, np.nan)
    starts = range(0, d, block)
    for start in tqdm(starts, desc="fwhm", unit="block", disable=not progress, leave=False):
        cols = np.arange(start, min(d, start + block))
        scores = pca.transform(Z, components=cols)
        for k, col in enumerate(cols):
            values = scores[:, k]
            if (values.max() - values.min()) / bin_width > MAX_BINS:
                continue
            measured[col] = histogram_fwhm(values, bin_width)
    expected = gaussian_fwhm(std)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative_error = np.where(expected > 0, (measured - expected) / expected, np.nan)
    failed = ~(np.abs(relative_error) <= BREAKDOWN_RELATIVE_ERROR)
    broken = np.nonzero(failed)[0]
    # Components come by decreasing width, so the breakdown is the trailing run of failures;
    # isolated failures before it are histogram noise.
    ok = np.nonzero(~failed)[0]
    tail_start = int(ok[-1]) + 1 if len(ok) else 0
    return {
        "bin_width": bin_width,
        "n_points": int(Z.shape[0]),
        "std": std.tolist(),
        "gaussian_fwhm": expected.tolist(),
        "histogram_fwhm": measured.tolist(),
        "relative_error": relative_error.tolist(),
        "std_in_bins": (std / bin_width).tolist(),
        "breakdown_relative_error": BREAKDOWN_RELATIVE_ERROR,
        "components_past_breakdown": broken.tolist(),
        "breakdown_from_component": tail_start if tail_start < d else None,
        "breakdown_std_in_bins": float(std[tail_start - 1] / bin_width) if 0 < tail_start < d else None,
    }
