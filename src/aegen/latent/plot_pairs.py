"""2-D figures of a component pair: density contours and sigma ellipses, original and PCA frames."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aegen.latent.contours import PairDensity
from aegen.latent.geometry import ellipse_outline
from aegen.plots import save_figure, use_agg

ELLIPSE_STYLES = ["-", "--", "-.", ":", (0, (5, 1))]


@dataclass
class PairView:
    """What one panel shows: a pair of coordinates in one frame.

    sample: (m, 2) points to scatter (a subsample); n_points: N behind the density and the
    covariance; mean (2,), cov (2, 2): moments of all N; density: None when too few points;
    level_sigmas: the levels the contours are drawn at; labels: axis names; frame: title;
    ellipse: :func:`aegen.latent.geometry.pair_ellipse` of ``cov``.
    """

    sample: np.ndarray
    n_points: int
    mean: np.ndarray
    cov: np.ndarray
    density: PairDensity | None
    level_sigmas: tuple
    labels: tuple[str, str]
    frame: str
    ellipse: dict


def _draw(ax, view: PairView, sigmas) -> None:
    import matplotlib.pyplot as plt

    ax.scatter(view.sample[:, 0], view.sample[:, 1], s=1.5, color="#9e9e9e", alpha=0.35, linewidths=0,
               rasterized=True, label=f"z-points ({len(view.sample):,} of {view.n_points:,} drawn)")
    if view.density is not None:
        levels = [view.density.gaussian_level(s) for s in view.level_sigmas]
        order = np.argsort(levels)
        colors = plt.cm.viridis(np.linspace(0.1, 0.9, len(levels)))
        ax.contour(view.density.x_centres, view.density.y_centres, view.density.density,
                   levels=np.asarray(levels)[order], colors=colors[order], linewidths=1.2)
        for s, color in zip(view.level_sigmas, colors):
            ax.plot([], [], color=color, lw=1.2, label=f"density contour at the Gaussian's {s:g} sigma level")
    for s, style in zip(sigmas, ELLIPSE_STYLES):
        outline = ellipse_outline(view.mean, view.cov, s)
        ax.plot(outline[:, 0], outline[:, 1], color="#d62728", ls=style, lw=1.6,
                label=f"{s:g} sigma ellipse")
    major = np.radians(view.ellipse["major_axis_angle_deg"])
    reach = max(sigmas) * view.ellipse["std_major"]
    ax.plot(view.mean[0] + reach * np.array([-np.cos(major), np.cos(major)]),
            view.mean[1] + reach * np.array([-np.sin(major), np.sin(major)]),
            color="black", lw=0.8, label="major axis")
    ax.set_xlabel(view.labels[0])
    ax.set_ylabel(view.labels[1])
    ax.set_title(f"{view.frame}\nmajor axis at {view.ellipse['major_axis_angle_deg']:.1f}\u00b0, "
                 f"misalignment {view.ellipse['misalignment_deg']:.1f}\u00b0, "
                 f"axis ratio {view.ellipse['axis_ratio']:.2f}", fontsize=10)
    span = 1.15 * max(sigmas) * np.sqrt(np.diag(view.cov))
    ax.set_xlim(view.mean[0] - span[0], view.mean[0] + span[0])
    ax.set_ylim(view.mean[1] - span[1], view.mean[1] + span[1])
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=2, frameon=False)


def plot_pair(views: list[PairView], sigmas, path: str | Path) -> Path:
    """Side-by-side panels (e.g. original and PCA frames) of one component pair."""
    use_agg()
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(views), figsize=(7.2 * len(views), 8.2), squeeze=False)
    for ax, view in zip(axes[0], views):
        _draw(ax, view, sigmas)
    fig.suptitle("Density contours and confidence ellipses; ellipses follow the seed's convention: semi-axes of "
                 "sigma standard deviations along the principal axes of the pair's 2x2 covariance",
                 fontsize=10)
    return save_figure(fig, path)
