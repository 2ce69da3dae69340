"""The seed's resolution problem: histogram FWHM of each PCA component against 2.3548 std.

The bins come from :func:`aegen.latent.fwhm.component_bin_widths`, the function the samplers
use: by default each component gets its own bin (the samplers' default), and the table also
measures every component with the seed's one bin for all (Scott's rule on the widest
component), so that the analysis figure shows both what the samplers measure and what the
seed's choice would.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from aegen.latent.checks import InsufficientDataError
from aegen.latent.fwhm import bin_rule, component_bin_widths, gaussian_fwhm, histogram_fwhm
from aegen.latent.pca import LatentPCA

# The measurement counts as broken down where it misses 2.3548 std by more than this.
BREAKDOWN_RELATIVE_ERROR = 0.10
# Components whose histogram would need more bins than this are not measured.
MAX_BINS = 1_000_000
# Components with less spread than this fraction of the widest are not measured (no extent).
_FLAT_TOLERANCE = 1e-6


def pca_fwhm_table(Z: np.ndarray, pca: LatentPCA, bin_width: float | str | None = None,
                   block: int = 32, progress: bool = False) -> dict:
    """Histogram FWHM of every PCA component of ``Z`` (N, d) next to the Gaussian FWHM.

    ``bin_width``: None or "per-component" (the samplers' default rule: a bin per component),
    "seed" (one bin for all from the widest component, as the seed), or a number (one bin
    for all). PCA coordinates are computed ``block`` components at a time over all N points,
    so memory stays at N x block floats. Returns a dict of (d,) lists: ``std``,
    ``gaussian_fwhm`` (2.3548 std), ``histogram_fwhm``, ``relative_error``
    ((histogram - gaussian) / gaussian), ``std_in_bins`` (std / bin width) and ``bin_widths``;
    ``bin_rule``; ``bin_width`` (the one width, or None for per-component bins); ``n_points``;
    the breakdown threshold, the components past it, and ``breakdown_from_component``: the
    first of the trailing run of components that miss the Gaussian FWHM by more than the
    threshold (None if the narrowest component is measured well), with
    ``breakdown_std_in_bins`` the std in bins of the last good component. Unless the rule is
    "seed", ``seed`` holds the same columns measured with the seed's bin.
    """
    if Z.shape[0] < 2:
        raise InsufficientDataError(f"FWHM needs at least 2 points, got {Z.shape[0]}")
    rule = bin_rule("per-component" if bin_width is None else bin_width)
    std = np.sqrt(pca.explained_variance_)
    rules = {"main": "per-component" if bin_width is None else bin_width}
    if rule != "seed":
        rules["seed"] = "seed"
    bins = {name: component_bin_widths(std, Z.shape[0], value) for name, value in rules.items()}
    measured = {name: np.full(std.size, np.nan) for name in rules}
    starts = range(0, std.size, block)
    for start in tqdm(starts, desc="fwhm", unit="block", disable=not progress, leave=False):
        cols = np.arange(start, min(std.size, start + block))
        scores = pca.transform(Z, components=cols)
        for k, col in enumerate(cols):
            values = scores[:, k]
            if not std[col] > _FLAT_TOLERANCE * std[0]:
                continue
            for name in rules:
                if (values.max() - values.min()) / bins[name][col] <= MAX_BINS:
                    measured[name][col] = histogram_fwhm(values, bins[name][col])
    table = _columns(std, measured["main"], bins["main"], rule)
    table.update(n_points=int(Z.shape[0]), breakdown_relative_error=BREAKDOWN_RELATIVE_ERROR)
    if "seed" in rules:
        table["seed"] = _columns(std, measured["seed"], bins["seed"], "seed")
    return table


def _columns(std: np.ndarray, measured: np.ndarray, bins: np.ndarray, rule: str) -> dict:
    """The table's columns for one bin rule, with the breakdown of the measurement."""
    expected = gaussian_fwhm(std)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative_error = np.where(expected > 0, (measured - expected) / expected, np.nan)
        in_bins = np.where(bins > 0, std / bins, np.nan)
    failed = ~(np.abs(relative_error) <= BREAKDOWN_RELATIVE_ERROR)
    # Components come by decreasing width, so the breakdown is the trailing run of failures;
    # isolated failures before it are histogram noise.
    ok = np.nonzero(~failed)[0]
    d = std.size
    tail_start = int(ok[-1]) + 1 if len(ok) else 0
    single = bool(np.all(bins == bins[0]))
    return {
        "bin_rule": rule,
        "bin_width": float(bins[0]) if single else None,
        "bin_widths": bins.tolist(),
        "std": std.tolist(),
        "gaussian_fwhm": expected.tolist(),
        "histogram_fwhm": measured.tolist(),
        "relative_error": relative_error.tolist(),
        "std_in_bins": in_bins.tolist(),
        "components_past_breakdown": np.nonzero(failed)[0].tolist(),
        "breakdown_from_component": tail_start if tail_start < d else None,
        "breakdown_std_in_bins": float(in_bins[tail_start - 1]) if 0 < tail_start < d else None,
    }
