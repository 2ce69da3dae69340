"""Figures of the per-component number distributions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from aegen.latent.components import HISTOGRAM_SPAN_STD, ComponentHistograms
from aegen.latent.moments import CloudMoments
from aegen.plots import save_figure, use_agg

MAX_PANELS = 256
PANEL_GAP_X = 0.08
PANEL_GAP_Y = 0.3


def _panel_origin(k: int, ncols: int) -> tuple[float, float]:
    """Lower-left corner of panel ``k`` in the grid's own units (panels are 1 x 1)."""
    row, col = divmod(k, ncols)
    return col * (1 + PANEL_GAP_X), -row * (1 + PANEL_GAP_Y)


def plot_component_histograms(hist: ComponentHistograms, moments: CloudMoments, path: str | Path) -> Path:
    """Small multiples: one panel per component (the first 256), histogram and fitted Gaussian.

    All panels share one x range, so that the components' different centres and widths
    show; each panel's height is scaled to its own peak. The panels are drawn into a single
    matplotlib Axes (hundreds of separate Axes would take about a minute to render).
    """
    use_agg()
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection, PolyCollection

    d = hist.counts.shape[0]
    shown = min(d, MAX_PANELS)
    ncols = math.ceil(math.sqrt(shown))
    nrows = math.ceil(shown / ncols)
    x_grid, gauss = hist.gaussian_counts(moments)
    lo, hi = float(hist.edges[:shown, 0].min()), float(hist.edges[:shown, -1].max())

    def to_panel(x):
        return (np.asarray(x) - lo) / (hi - lo)

    fills, curves, frames, zero_lines = [], [], [], []
    fig, ax = plt.subplots(figsize=(ncols * 1.05, nrows * 0.95 + 1.4))
    for k in range(shown):
        x0, y0 = _panel_origin(k, ncols)
        peak = max(float(hist.counts[k].max()), float(gauss[k].max()), 1.0)
        xs = to_panel(np.repeat(hist.edges[k], 2))
        ys = np.concatenate([[0.0], np.repeat(hist.counts[k] / peak, 2), [0.0]]) * 0.92
        fills.append(np.column_stack([x0 + xs, y0 + ys]))
        curves.append(np.column_stack([x0 + to_panel(x_grid[k]), y0 + 0.92 * gauss[k] / peak]))
        frames.append([(x0, y0), (x0 + 1, y0), (x0 + 1, y0 + 1), (x0, y0 + 1), (x0, y0)])
        if lo < 0 < hi:
            zero_lines.append([(x0 + to_panel(0.0), y0), (x0 + to_panel(0.0), y0 + 1)])
        ax.text(x0 + 0.5, y0 + 1.03, str(k), ha="center", va="bottom", fontsize=7)
    ax.add_collection(LineCollection(zero_lines, colors="#555555", linewidths=0.5, label="0 (origin)"))
    ax.add_collection(PolyCollection(fills, facecolors="#7aa6d6", edgecolors="none", label="histogram"))
    ax.add_collection(LineCollection(curves, colors="#d62728", linewidths=1.0,
                                     label="normal density with the component's mean and std"))
    ax.add_collection(LineCollection(frames, colors="#333333", linewidths=0.4))
    # One shared x scale, written under the last row.
    x0, y0 = _panel_origin((nrows - 1) * ncols, ncols)
    for value in sorted({lo, hi, 0.0} if lo < 0 < hi else {lo, hi}):
        ax.text(x0 + to_panel(value), y0 - 0.06, f"{value:.3g}", ha="center", va="top", fontsize=7)
    ax.text(x0 + 0.5, y0 - 0.3, "component value", ha="center", va="top", fontsize=8)
    ax.set_xlim(-0.1, ncols * (1 + PANEL_GAP_X))
    ax.set_ylim(-(nrows - 1) * (1 + PANEL_GAP_Y) - 0.5, 1.3)
    ax.axis("off")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=3, fontsize=10, frameon=False)
    more = f" (first {shown} of {d} components)" if shown < d else ""
    ax.set_title(f"Number distribution of each z-component{more}: N = {hist.n_points:,} points, panel title = "
                 f"component index\n40-bin histograms over mean \u00b1 {HISTOGRAM_SPAN_STD:g} std; all panels share "
                 f"the x range {lo:.3g} .. {hi:.3g}, heights scaled to each panel's peak", fontsize=11)
    return save_figure(fig, path)


def plot_component_moments(moments: CloudMoments, path: str | Path) -> Path:
    """Per-component mean +- std, and skewness / excess kurtosis, against the component index."""
    use_agg()
    import matplotlib.pyplot as plt

    idx = np.arange(moments.dim)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 7), sharex=True)
    top.errorbar(idx, moments.mean, yerr=moments.std, fmt="o", ms=2.5, lw=0.6, color="#1f77b4",
                 ecolor="#9ecae1", label="mean \u00b1 1 std")
    top.axhline(0.0, color="black", lw=0.8, label="0 (origin)")
    top.set_ylabel("component value")
    top.set_title(f"Centre and width of each z-component (N = {moments.n:,} points)")
    top.legend(loc="upper right")
    bottom.plot(idx, moments.skewness, "o", ms=2.5, label="skewness")
    bottom.plot(idx, moments.excess_kurtosis, "s", ms=2.5, label="excess kurtosis")
    bottom.axhline(0.0, color="black", lw=0.8, label="0 (normal distribution)")
    bottom.set_xlabel("component index")
    bottom.set_ylabel("moment ratio")
    bottom.set_title("Shape of each component's distribution")
    bottom.legend(loc="upper right")
    return save_figure(fig, path)


def plot_component_gof(shapiro_all: dict, shapiro_core: dict | None, path: str | Path, alpha: float = 0.01) -> Path:
    """Shapiro-Wilk W and p-value per component, for all points and for the 3-sigma core."""
    use_agg()
    import matplotlib.pyplot as plt

    runs = [("all points", shapiro_all, "#1f77b4", "o")]
    if shapiro_core is not None:
        runs.append(("core (within 3 sigma)", shapiro_core, "#ff7f0e", "s"))
    d = len(shapiro_all["W"])
    idx = np.arange(d)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 7), sharex=True)
    for label, result, color, marker in runs:
        top.plot(idx, result["W"], marker, ms=3, color=color, label=f"{label}, n = {result['n']:,}")
        p = np.clip(np.asarray(result["p_value"], dtype=float), 1e-300, 1.0)
        frac = np.nanmean(p < alpha)
        bottom.semilogy(idx, p, marker, ms=3, color=color, label=f"{label}: {frac:.0%} below {alpha:g}")
    top.set_ylabel("Shapiro-Wilk W (1 = normal)")
    top.set_title("Goodness of fit of a normal distribution per z-component (Shapiro-Wilk on a random subsample)")
    top.legend(loc="lower right")
    bottom.axhline(alpha, color="black", ls="--", lw=1, label=f"p = {alpha:g}")
    bottom.axhline(alpha / d, color="grey", ls=":", lw=1, label=f"p = {alpha:g} / {d} (Bonferroni)")
    bottom.set_xlabel("component index")
    bottom.set_ylabel("p-value")
    bottom.legend(loc="lower right", fontsize=8)
    return save_figure(fig, path)
