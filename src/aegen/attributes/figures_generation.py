"""Figure of conditional sampling: how often the samples carry the requested attribute."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aegen.plots import save_figure, use_agg


def plot_conditional_rates(path: str | Path, result: dict) -> Path:
    """Grouped bars per attribute: the share of images the classifier calls positive.

    Bars: real training images (labels), unconditional samples, samples conditioned on the
    attribute (=1) and on its absence (=-1); a dashed line marks the target share for =1 and,
    mirrored, for =-1; a black tick shows the share the classifier finds among real held-out
    images that carry the attribute (the most a sampler can expect to score). result: the dict of :func:`rate_conditional_sampling`.
    """
    use_agg()
    import matplotlib.pyplot as plt

    table = result["attributes"]
    names = list(table)
    x = np.arange(len(names))
    bars = [
        ("real images (labels)", [table[a]["real_positive_rate"] for a in names], "tab:gray"),
        ("unconditional samples", [table[a]["unconditional_positive_rate"] for a in names], "tab:blue"),
        ("samples, attribute = 1", [table[a]["positive_share_when_requested"] for a in names], "tab:green"),
        ("samples, attribute = -1", [1.0 - table[a]["negative_share_when_requested"] for a in names], "tab:red"),
    ]
    width = 0.2
    fig, ax = plt.subplots(figsize=(max(8, 1.7 * len(names) + 3), 4.8))
    for i, (label, values, colour) in enumerate(bars):
        ax.bar(x + (i - 1.5) * width, values, width, label=label, color=colour)
    ceilings = [table[a]["classifier_ceiling_positive"] for a in names]
    ax.scatter(x + 0.5 * width, ceilings, marker="_", s=320, linewidths=2.5, color="black", zorder=3,
               label="real held-out images with it, as the classifier sees them")
    target = result["target"]["share"]
    ax.axhline(target, color="green", ls="--", lw=1, label=f"target for =1: >= {target:.0%}")
    ax.axhline(1 - target, color="red", ls="--", lw=1, label=f"target for =-1: <= {1 - target:.0%}")
    ax.set_xticks(x, names, rotation=15, ha="right")
    ax.set_xlabel("attribute")
    ax.set_ylabel("share classified as carrying the attribute")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Conditional sampling ({result['method']}), {result['n_per_condition']} samples per condition, "
                 f"rated by a CNN trained on {result['classifier']['n_train']} real images", fontsize=10)
    ax.legend(fontsize=8, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return save_figure(fig, path)
