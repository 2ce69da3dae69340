"""Full width at half maximum of a one-dimensional sample, measured from its histogram.

This is the seed's measurement of a component's half-width: a histogram with a fixed bin
width, its peak, and the two points left and right of the peak where the histogram falls to
half the peak height (linear interpolation between bin centres). Its resolution is the bin
width, so for components narrower than a few bins the measurement breaks down; compare it
with :func:`gaussian_fwhm` of the standard deviation.

:func:`component_bin_widths` is the one place where aegen chooses the bins, for the
samplers and for the analysis figure alike:

- ``"per-component"`` (the default): each component gets its own bin,
  h_k = 1.8 std_k N^(-1/5), so every component is resolved alike (std_k / h_k =
  N^(1/5) / 1.8: 3.9 bins per std at N = 18,000, 5.6 at N = 100,000). For normal samples
  (300 per size) the measured FWHM missed 2.3548 std by -0.3%, +0.1%, +0.1%, +0.2%, +0.1%
  and +0.1% on average at N = 1,000, 3,000, 10,000, 18,000, 30,000 and 100,000, with a
  spread (one standard deviation) of 6.4%, 4.2%, 2.5%, 2.1%, 1.6% and 1.0%. Scott's rule
  on each component (3.49 std_k N^(-1/3), tuned for the whole density, not its width) gave
  -2.3%, -2.6%, -1.8%, -1.6%, -1.3% and -1.1% with a larger spread: its finer bins make the
  peak noisier and the maximum of noisy bins overshoots. The N^(-1/5) rate balances the
  h^2 bias of the binning against that noise, as for a density estimate at one point.
- ``"seed"``: the seed's choice, one bin for every component, from Scott's rule on the
  widest one (h = 3.49 std_max N^(-1/3)). Components narrower than about a bin are measured
  about a bin wide: on 42,500 normal points the FWHM came out 1.3 to 1.5 times too large at
  std = 0.42 bin and 14 times at 0.03 bin (three seeds; the default rule stayed within 3.3%).
- ``"auto"``: the name ``"seed"`` had before per-component bins existed (samplers saved
  then carry it); it means ``"seed"``.
- a number: that bin width for every component.
"""

from __future__ import annotations

import numpy as np

# FWHM of a normal distribution in units of its standard deviation: 2 * sqrt(2 * ln 2).
FWHM_PER_STD = 2.0 * np.sqrt(2.0 * np.log(2.0))
# h_k = PER_COMPONENT_BIN_FACTOR * std_k * N ** PER_COMPONENT_BIN_EXPONENT (see the module docstring).
PER_COMPONENT_BIN_FACTOR = 1.8
PER_COMPONENT_BIN_EXPONENT = -0.2
# Scott's rule (1979): h = 3.49 std N^(-1/3); the seed's bin, taken from the widest component.
SCOTT_FACTOR = 3.49
BIN_RULES = ("per-component", "seed")
# Earlier names of the rules, still accepted (saved samplers carry them).
LEGACY_BIN_RULES = {"auto": "seed"}


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


def check_bin_width(bin_width) -> str | float:
    """``bin_width`` validated: a rule name of :data:`BIN_RULES` (or a legacy name, kept as
    given) or a float > 0; ValueError otherwise."""
    if isinstance(bin_width, str):
        if bin_width in BIN_RULES or bin_width in LEGACY_BIN_RULES:
            return bin_width
    elif (isinstance(bin_width, (int, float, np.integer, np.floating)) and not isinstance(bin_width, (bool, np.bool_))
          and np.isfinite(bin_width) and bin_width > 0):
        return float(bin_width)
    raise ValueError(f"bin_width must be 'per-component', 'seed' (or its old name 'auto') or a number > 0, "
                     f"got {bin_width!r}")


def bin_rule(bin_width) -> str:
    """The rule ``bin_width`` stands for: "per-component", "seed" or "fixed" (a number)."""
    bin_width = check_bin_width(bin_width)
    if isinstance(bin_width, float):
        return "fixed"
    return LEGACY_BIN_RULES.get(bin_width, bin_width)


def component_bin_widths(stds: np.ndarray, n_points: int, bin_width="per-component") -> np.ndarray:
    """Histogram bin width (k,) for each of k components of standard deviations ``stds`` (k,).

    ``n_points``: the number of values each histogram holds. ``bin_width``: a rule of
    :data:`BIN_RULES`, a legacy name, or one number for all (see the module docstring).
    A component of zero spread gets a zero bin under the per-component rule.
    """
    stds = np.asarray(stds, dtype=float).ravel()
    if stds.size == 0 or not np.all(np.isfinite(stds)) or np.any(stds < 0):
        raise ValueError("stds must be a non-empty array of finite values >= 0")
    if int(n_points) != n_points or n_points < 2:
        raise ValueError(f"n_points must be an integer >= 2, got {n_points}")
    rule = bin_rule(bin_width)
    if rule == "fixed":
        return np.full(stds.size, float(bin_width))
    if rule == "seed":
        width = SCOTT_FACTOR * stds.max() * n_points ** (-1.0 / 3.0)
        if not width > 0:
            raise ValueError("every component has zero spread: no bin width")
        return np.full(stds.size, width)
    return PER_COMPONENT_BIN_FACTOR * stds * n_points**PER_COMPONENT_BIN_EXPONENT
