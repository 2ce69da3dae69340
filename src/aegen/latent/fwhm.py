"""Full width at half maximum of a one-dimensional sample, measured from its histogram.

This is the seed's measurement of a component's half-width: a histogram with a fixed bin
width, its peak, and the two points left and right of the peak where the histogram falls to
half the peak height (linear interpolation between bin centres). Its resolution is the bin
width, so for components narrower than a few bins the measurement breaks down; compare it
with :func:`gaussian_fwhm` of the standard deviation.
"""

from __future__ import annotations

import numpy as np

# FWHM of a normal distribution in units of its standard deviation: 2 * sqrt(2 * ln 2).
FWHM_PER_STD = 2.0 * np.sqrt(2.0 * np.log(2.0))


def gaussian_fwhm(std: float | np.ndarray) -> float | np.ndarray:
    """FWHM of a normal distribution with standard deviation ``std`` (2.3548 std)."""
    return FWHM_PER_STD * np.asarray(std, dtype=float)


def histogram_fwhm(values: np.ndarray, bin_width: float) -> float:
    """FWHM of ``values`` (n,) measured on a histogram with bins of ``bin_width``.

    Returns the full width (not the half-width). Raises ValueError for a bin width that is
    not positive, for fewer than 2 finite values, or for NaN/Inf among the values.
    """
    values = np.asarray(values, dtype=float).ravel()
    if not bin_width > 0:
        raise ValueError(f"bin_width must be > 0, got {bin_width}")
    if values.size < 2:
        raise ValueError("need at least 2 values to measure a FWHM")
    if not np.all(np.isfinite(values)):
        raise ValueError("values contain NaN or Inf")
    lo, hi = values.min(), values.max()
    n_bins = max(1, int(np.ceil((hi - lo) / bin_width)))
    # Pad by one empty bin on both sides so the half-maximum crossing always exists.
    edges = lo - bin_width + bin_width * np.arange(n_bins + 3)
    counts, _ = np.histogram(values, bins=edges)
    centres = 0.5 * (edges[:-1] + edges[1:])
    peak = int(np.argmax(counts))
    half = counts[peak] / 2.0

    left = peak
    while counts[left] > half:
        left -= 1
    right = peak
    while counts[right] > half:
        right += 1

    def crossing(i_out: int, i_in: int) -> float:
        c_out, c_in = counts[i_out], counts[i_in]
        t = (half - c_out) / (c_in - c_out) if c_in != c_out else 0.0
        return centres[i_out] + t * (centres[i_in] - centres[i_out])

    return float(crossing(right, right - 1) - crossing(left, left + 1))
