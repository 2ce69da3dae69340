"""Figures of the attribute analysis: 2-D views per attribute and an overview of all."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aegen.attributes.clusters import balanced_subsample
from aegen.attributes.labels import to_binary
from aegen.plots import save_figure, use_agg

POSITIVE_COLOUR = "tab:orange"
NEGATIVE_COLOUR = "tab:blue"


def _scatter_classes(ax, coords: np.ndarray, y01: np.ndarray, name: str) -> None:
    # The negative class first, so that a rare positive class stays visible on top.
    size = 4 if y01.size > 1000 else 14
    for value, colour, label in ((0, NEGATIVE_COLOUR, f"not {name}"), (1, POSITIVE_COLOUR, name)):
        sel = y01 == value
        ax.scatter(coords[sel, 0], coords[sel, 1], s=size, alpha=0.45, color=colour, linewidths=0,
                   label=f"{label} (n={int(sel.sum())})")
    ax.legend(loc="upper right", fontsize=8, markerscale=3, framealpha=0.8)


def plot_attribute_views(path: str | Path, name: str, result: dict, Z_eval: np.ndarray, y_eval: np.ndarray,
                         eval_split: str, max_points: int = 4000, random_state: int = 0) -> Path:
    """Three panels for one attribute: PCA plane, direction plane, histogram along the direction.

    result: the dict of :func:`aegen.attributes.analysis.analyze_attribute` (with its private
    ``_views`` and ``_probe_direction``); Z_eval (M, d), y_eval (M,) in {-1, 1}. The scatter
    panels show a balanced subsample (the same one the silhouettes use); the histogram uses
    all M points. Returns the path written.
    """
    use_agg()
    import matplotlib.pyplot as plt

    views, probe_dir = result["_views"], result["_probe_direction"]
    y01 = to_binary(y_eval)
    idx = balanced_subsample(y01, max_points, random_state)
    sil = result["silhouette"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.2))

    pca_xy = views.pca_plane(Z_eval[idx])
    _scatter_classes(axes[0], pca_xy, y01[idx], name)
    evr = views.explained_variance_ratio_
    axes[0].set_xlabel(f"PC 1 ({evr[0]:.1%} of variance)")
    axes[0].set_ylabel(f"PC 2 ({evr[1]:.1%} of variance)")
    axes[0].set_title(f"Top PCA plane: silhouette {sil['pca_plane']['mean']:.3f}")

    dir_xy = views.direction_plane(Z_eval[idx])
    _scatter_classes(axes[1], dir_xy, y01[idx], name)
    axes[1].set_xlabel(f"along the {name} probe direction")
    axes[1].set_ylabel("top principal axis orthogonal to it")
    axes[1].set_title(f"Attribute direction plane: silhouette {sil['direction_plane']['mean']:.3f}")

    along = probe_dir.project(Z_eval)
    bins = np.linspace(along.min(), along.max(), 60)
    axes[2].hist(along, bins=bins, density=True, histtype="step", color="black", lw=1.5,
                 label=f"all (n={along.size})")
    for value, colour, label in ((0, NEGATIVE_COLOUR, f"not {name}"), (1, POSITIVE_COLOUR, name)):
        axes[2].hist(along[y01 == value], bins=bins, density=True, alpha=0.45, color=colour,
                     label=f"{label} (n={int((y01 == value).sum())})")
    axes[2].set_xlabel(f"coordinate along the {name} probe direction")
    axes[2].set_ylabel("density (each class normalised)")
    axes[2].set_title(f"Along the direction: probe balanced accuracy {result['probe']['balanced_accuracy']:.3f}")
    axes[2].legend(fontsize=8)

    fig.suptitle(
        f"{name}: {result['verdict']} (latent silhouette {sil['latent']['mean']:.3f}). "
        f"Scatter: balanced subsample of {idx.size} of {y01.size} {eval_split} z-points; "
        f"histogram: all {y01.size}", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_overview(path: str | Path, summary: dict) -> Path:
    """Bars per attribute: probe and mean-direction balanced accuracy, and silhouettes."""
    use_agg()
    import matplotlib.pyplot as plt

    names = list(summary["attributes"])
    results = [summary["attributes"][name] for name in names]
    x = np.arange(len(names))
    fig, (ax_acc, ax_sil) = plt.subplots(1, 2, figsize=(max(10, 1.6 * len(names) + 4), 4.8))

    width = 0.38
    ax_acc.bar(x - width / 2, [r["probe"]["balanced_accuracy"] for r in results], width, label="linear probe")
    ax_acc.bar(x + width / 2, [r["mean_direction"]["balanced_accuracy"] for r in results], width,
               label="mean-difference direction")
    ax_acc.axhline(0.5, color="grey", ls=":", lw=1, label="chance (0.5)")
    ax_acc.set_ylim(0.4, 1.0)
    ax_acc.set_ylabel("held-out balanced accuracy")
    ax_acc.set_title(f"Linear separability (n_eval={summary['n_eval']})")

    width = 0.27
    for offset, key, label in ((-width, "latent", "full latent space"), (0.0, "pca_plane", "top PCA plane"),
                               (width, "direction_plane", "direction plane")):
        ax_sil.bar(x + offset, [r["silhouette"][key]["mean"] for r in results], width, label=label)
    ax_sil.axhline(0.25, color="red", ls="--", lw=1, label="0.25: cluster threshold")
    ax_sil.axhline(0.0, color="black", lw=0.8)
    ax_sil.set_ylabel("mean silhouette (balanced subsample)")
    ax_sil.set_title(f"Cluster structure (<= {summary['silhouette_points']} points per attribute)")

    for ax in (ax_acc, ax_sil):
        ax.set_xticks(x, names, rotation=20, ha="right")
        ax.set_xlabel("attribute")
        ax.legend(fontsize=8)
    fig.suptitle(f"Attributes in latent space (z_dim={summary['z_dim']}, fitted on {summary['n_fit']} "
                 f"{summary['fit_split']} z-points)", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)
