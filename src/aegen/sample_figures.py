"""The seed's figures for any sampler on a run: generated z-vectors over the z-point cloud.

All functions take the cloud Z (N, d), the generated vectors V (n, d) and a PCA frame
(``mean`` (d,), ``components`` (k, d), rows are axes), so they work for every method:

- :func:`plot_pca_plane`: PCA components (0, 1), the cloud in grey, the generated vectors
  in orange, the 2.2-sigma ellipse in red (semi-axes 2.2 standard deviations along the
  principal axes of the plane, as in the seed);
- :func:`plot_pca_pairs`: a grid of pairs among the first 20 PCA components;
- :func:`plot_latent_pairs`: the same vectors in original latent coordinates, for the
  coordinate pairs with the strongest correlation, with the ellipses of those pairs.

The PCA frame, the correlations, the ellipse outlines and the subsamples come from
:mod:`aegen.latent`, the same as in the latent analysis.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from aegen.latent.checks import subsample_indices
from aegen.latent.correlation import correlation_matrix, top_correlated_pairs
from aegen.latent.geometry import ellipse_outline
from aegen.latent.moments import cloud_moments
from aegen.latent.pca import LatentPCA
from aegen.latent.sigma import plane_ellipse_radius
from aegen.plots import save_figure, use_agg

SEED_SIGMA = 2.2
MAX_CLOUD_POINTS = 20_000
MAX_GENERATED_POINTS = 200
_GENERATED_STYLE = dict(s=14, c="tab:orange", edgecolors="k", linewidths=0.3, zorder=3)


def pca_frame(Z: np.ndarray, n_components: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """PCA frame of a cloud for the figures: mean (d,), components (k, d), k = min(n_components, d)."""
    pca = LatentPCA().fit(Z)
    return pca.mean_, pca.components_[:n_components]


def plot_pca_plane(Z, V, mean, components, axes=(0, 1), sigma: float = SEED_SIGMA, method: str = "",
                   random_state: int = 0):
    """Figure: generated vectors (orange) over the cloud (grey) in one PCA plane, with the sigma ellipse."""
    plt = _pyplot()
    cloud, n_cloud = _project(Z, mean, components, MAX_CLOUD_POINTS, random_state)
    generated, n_gen = _project(V, mean, components, MAX_GENERATED_POINTS, random_state)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    _draw_pair(ax, cloud, generated, axes, sigma)
    ax.set_xlabel(f"PCA component {axes[0]}")
    ax.set_ylabel(f"PCA component {axes[1]}")
    ax.set_title(f"{_label(method)}generated z-vectors in the PCA plane ({axes[0]}, {axes[1]})\n"
                 f"{_counts(cloud, n_cloud, generated, n_gen)}", fontsize=10)
    ax.legend(handles=_legend_handles(sigma), loc="upper right", fontsize=8)
    return fig


def plot_pca_pairs(Z, V, mean, components, n_axes: int = 20, sigma: float = SEED_SIGMA, method: str = "",
                   random_state: int = 0):
    """Figure: a 3 x 4 grid of PCA component pairs among the first ``n_axes`` components."""
    plt = _pyplot()
    k = min(n_axes, components.shape[0])
    pairs = _pca_pairs(k)
    cloud, n_cloud = _project(Z, mean, components[:k], MAX_CLOUD_POINTS, random_state)
    generated, n_gen = _project(V, mean, components[:k], MAX_GENERATED_POINTS, random_state)
    return _pair_grid(plt, pairs, cloud, generated, sigma, "PCA component",
                      f"{_label(method)}generated z-vectors in pairs of the first {k} PCA components\n"
                      f"{_counts(cloud, n_cloud, generated, n_gen)}")


def plot_latent_pairs(Z, V, pairs=None, n_pairs: int = 6, sigma: float = SEED_SIGMA, method: str = "",
                      random_state: int = 0):
    """Figure: generated vectors in original latent coordinates, with each pair's sigma ellipse.

    ``pairs``: list of (i, j) latent coordinates; default: the ``n_pairs`` most correlated.
    """
    plt = _pyplot()
    cloud = _subsample(Z, MAX_CLOUD_POINTS, random_state).astype(float)
    generated = _subsample(V, MAX_GENERATED_POINTS, random_state).astype(float)
    if pairs is None:
        pairs = most_correlated_pairs(cloud, n_pairs)
    return _pair_grid(plt, list(pairs), cloud, generated, sigma, "latent z",
                      f"{_label(method)}generated z-vectors in original latent coordinates "
                      f"(most correlated pairs)\n{_counts(cloud, Z.shape[0], generated, V.shape[0])}")


def most_correlated_pairs(cloud: np.ndarray, n_pairs: int) -> list[tuple[int, int]]:
    """The ``n_pairs`` coordinate pairs (i < j) of largest |correlation| in cloud (N, d)."""
    if cloud.shape[1] < 2:
        raise ValueError("latent pairs need at least 2 dimensions")
    corr = correlation_matrix(cloud_moments(cloud).cov)
    return [(row["i"], row["j"]) for row in top_correlated_pairs(corr, n_pairs)]


def save_sampler_figures(folder, Z, V, mean=None, components=None, method: str = "",
                         random_state: int = 0) -> list[Path]:
    """Write pca_plane.png, pca_pairs.png and latent_pairs.png into ``folder``; returns the paths.

    Without a PCA frame, one is fitted to Z (:func:`pca_frame`).
    """
    folder = Path(folder)
    if mean is None or components is None:
        mean, components = pca_frame(Z)
    paths = []
    if components.shape[0] >= 2:
        paths.append(save_figure(plot_pca_plane(Z, V, mean, components, method=method, random_state=random_state),
                                 folder / "pca_plane.png"))
        paths.append(save_figure(plot_pca_pairs(Z, V, mean, components, method=method, random_state=random_state),
                                 folder / "pca_pairs.png"))
    if Z.shape[1] >= 2:
        paths.append(save_figure(plot_latent_pairs(Z, V, method=method, random_state=random_state),
                                 folder / "latent_pairs.png"))
    return paths


def _pca_pairs(k: int) -> list[tuple[int, int]]:
    """Up to 12 pairs among k axes: neighbours (0,1), (2,3), ... then a few distant ones."""
    pairs = [(i, i + 1) for i in range(0, k - 1, 2)]
    pairs += [(0, k - 1), (1, k // 2), (k // 4, 3 * k // 4)]
    unique = []
    for i, j in pairs:
        if i != j and (i, j) not in unique and j < k:
            unique.append((i, j))
    return unique[:12]


def _pair_grid(plt, pairs, cloud, generated, sigma, axis_name, title):
    ncols = 3 if len(pairs) in (5, 6, 9) else min(4, len(pairs))
    nrows = math.ceil(len(pairs) / ncols)
    fig, axs = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.0 * nrows + 0.8), squeeze=False)
    for ax, pair in zip(axs.ravel(), pairs):
        _draw_pair(ax, cloud, generated, pair, sigma)
        ax.set_xlabel(f"{axis_name} {pair[0]}", fontsize=8)
        ax.set_ylabel(f"{axis_name} {pair[1]}", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axs.ravel()[len(pairs):]:
        ax.set_visible(False)
    fig.legend(handles=_legend_handles(sigma), loc="lower center", ncol=3, fontsize=9, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def _draw_pair(ax, cloud, generated, pair, sigma):
    i, j = pair
    # Dots shrink and fade as the cloud grows, so that small and large clouds both read well.
    size = float(np.clip(3000.0 / len(cloud), 1.0, 12.0))
    alpha = float(np.clip(2000.0 / len(cloud), 0.25, 0.8))
    ax.scatter(cloud[:, i], cloud[:, j], s=size, c="0.55", alpha=alpha, linewidths=0, rasterized=True,
               label="z-points")
    centre = cloud[:, [i, j]].mean(axis=0)
    cov2 = np.cov(cloud[:, [i, j]], rowvar=False)
    outline = ellipse_outline(centre, cov2, plane_ellipse_radius(sigma))
    ax.plot(outline[:, 0], outline[:, 1], color="red", lw=1.4, label=f"{sigma:g}-sigma ellipse", zorder=2)
    ax.scatter(generated[:, i], generated[:, j], label="generated", **_GENERATED_STYLE)


def _legend_handles(sigma):
    """Legend entries with markers large enough to see (the cloud's own dots are tiny)."""
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], ls="", marker="o", ms=5, color="0.55", alpha=0.6, label="z-points"),
        Line2D([], [], color="red", lw=1.4, label=f"{sigma:g}-sigma ellipse"),
        Line2D([], [], ls="", marker="o", ms=6, mfc="tab:orange", mec="k", mew=0.3, label="generated"),
    ]


def _project(X, mean, components, limit, random_state):
    rows = _subsample(X, limit, random_state).astype(float)
    return (rows - mean) @ np.asarray(components).T, X.shape[0]


def _subsample(X: np.ndarray, limit: int, random_state: int) -> np.ndarray:
    return np.asarray(X[subsample_indices(X.shape[0], limit, np.random.default_rng(random_state))])


def _counts(cloud, n_cloud, generated, n_gen) -> str:
    shown = f"N = {n_cloud:,} z-points"
    if cloud.shape[0] < n_cloud:
        shown = f"{cloud.shape[0]:,} of {shown}"
    gen = f"{generated.shape[0]:,} of {n_gen:,} generated" if generated.shape[0] < n_gen else f"{n_gen:,} generated"
    return f"{shown}, {gen}"


def _label(method: str) -> str:
    return f"{method}: " if method else ""


def _pyplot():
    use_agg()
    import matplotlib.pyplot as plt

    return plt
