"""Figures of an evaluation: metrics per method, Mahalanobis radii, nearest-training distances."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aegen.evaluate.protocol.record import EvalProtocol
from aegen.evaluate.protocol.rows import EvalRow, as_rows, feature_label
from aegen.plots import save_figure, use_agg

SAMPLER_COLOUR = "tab:blue"
REFERENCE_COLOUR = "tab:gray"


def interval_errors(rows: list[EvalRow], key: str, scale: float) -> np.ndarray:
    """(2, n) distances from each value down to its interval's low and up to its high (0 without one)."""
    errors = np.zeros((2, len(rows)))
    for i, r in enumerate(rows):
        interval = r.metric(key)
        if interval is not None and interval.low is not None:
            errors[:, i] = scale * (interval.estimate - interval.low), scale * (interval.high - interval.estimate)
    return np.clip(errors, 0.0, None)


def _scaled(row: EvalRow, key: str, scale: float = 1.0) -> float:
    value = row.value(key)
    return np.nan if value is None else scale * value


def _colours(rows: list[EvalRow]) -> list[str]:
    return [REFERENCE_COLOUR if r.kind == "reference" else SAMPLER_COLOUR for r in rows]


def _bars(ax, rows: list[EvalRow], key: str, title: str, ylabel: str, scale: float = 1.0):
    names = [r.method for r in rows]
    values = [_scaled(r, key, scale) for r in rows]
    errors = interval_errors(rows, key, scale)
    colours = _colours(rows)
    ax.bar(range(len(rows)), values, yerr=errors, color=colours, capsize=3)
    ax.set_xticks(range(len(rows)), names, rotation=30, ha="right")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    if all(np.isnan(values)):
        ax.text(0.5, 0.5, "not measured", transform=ax.transAxes, ha="center", va="center", color="gray")


def metrics_figure(rows, protocol: EvalProtocol | dict, path: str | Path) -> Path:
    """Bar charts of FID, KID, precision/recall/density/coverage, face rate and latent shares per row.

    rows: :class:`EvalRow` (or their dicts); protocol: an :class:`EvalProtocol` (or its dict)."""
    rows, protocol = as_rows(rows), EvalProtocol.from_dict(protocol)
    use_agg()
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    label = feature_label(protocol)
    tag = "" if label == "Inception" else f" [{label}]"
    n, n_ref = protocol.n, protocol.reference.n
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    _bars(axes[0, 0], rows, "fid", f"FID{tag} (N = {n} vs {n_ref}), 95% interval", "FID (lower is better)")
    _bars(axes[0, 1], rows, "kid", f"KID{tag}, 95% interval", "KID × 10³ (lower is better)", 1e3)
    _bars(axes[0, 2], rows, "face_rate", "Face-detection rate (MTCNN)", "share of images with a face")
    for ax, keys, title in ((axes[1, 0], ("precision", "recall"), "Precision and recall (k = 3)"),
                            (axes[1, 1], ("density", "coverage"), "Density and coverage (k = 5)"),
                            (axes[1, 2], ("latent_in_band", "latent_inside_3sigma"),
                             "z radius in the held-out [p1, p99] band / inside 3σ")):
        x = np.arange(len(rows))
        for offset, key, hatch in ((-0.2, keys[0], ""), (0.2, keys[1], "//")):
            values = [_scaled(r, key) for r in rows]
            ax.bar(x + offset, values, width=0.4, hatch=hatch, edgecolor="white", color=_colours(rows),
                   label={"latent_in_band": "in band", "latent_inside_3sigma": "inside 3σ"}.get(key, key))
        ax.set_xticks(x, [r.method for r in rows], rotation=30, ha="right")
        ax.set_title(title)
        ax.set_ylabel("share" if keys[0] != "density" else "density: ratio; coverage: share")
        # Head room above the bars keeps the legend clear of them (density can exceed 1).
        highest = max([r.value(k) for r in rows for k in keys if r.value(k) is not None] or [1.0])
        ax.set_ylim(0.0, max(1.0, highest) * 1.25)
        ax.legend(loc="upper center", ncol=2, fontsize=8)
    fig.legend(handles=[Patch(color=SAMPLER_COLOUR, label="sampler"), Patch(color=REFERENCE_COLOUR, label="reference row")],
               loc="upper right")
    fig.suptitle(f"Generated faces against {n_ref} held-out images: N = {n} per row, features {label}")
    fig.tight_layout(rect=(0, 0, 0.94, 0.96))
    return save_figure(fig, path)


def latent_radii_figure(named_radii: dict[str, np.ndarray], heldout_radii: np.ndarray, band: tuple[float, float],
                        path: str | Path) -> Path:
    """Histograms of Mahalanobis radii per method against held-out z-points, with their [p1, p99] band."""
    use_agg()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    every = np.concatenate([heldout_radii] + [r for r in named_radii.values()])
    bins = np.linspace(0.0, np.percentile(every, 99.5) * 1.05, 60)
    ax.hist(heldout_radii, bins=bins, density=True, color="black", alpha=0.25,
            label=f"held-out z-points (N = {len(heldout_radii)})")
    for name, radii in named_radii.items():
        ax.hist(np.clip(radii, None, bins[-1]), bins=bins, density=True, histtype="step", lw=1.5,
                label=f"{name} (N = {len(radii)})")
    ax.axvspan(*band, color="green", alpha=0.08, label="held-out radii, [p1, p99] band")
    ax.set_xlabel("Mahalanobis radius under the normal fit of the training z-points (last bin: beyond)")
    ax.set_ylabel("density")
    ax.set_title("Where generated z-vectors lie, against the held-out z-points")
    ax.legend(fontsize=8, loc="best")
    return save_figure(fig, path)


def memorisation_figure(named_distances: dict[str, np.ndarray], heldout_distances: np.ndarray, side: int,
                        path: str | Path) -> Path:
    """Histograms of nearest-training-image distances per method against held-out images."""
    use_agg()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    every = np.concatenate([heldout_distances] + list(named_distances.values()))
    bins = np.linspace(0.0, every.max() * 1.02 + 1e-9, 60)
    ax.hist(heldout_distances, bins=bins, density=True, color="black", alpha=0.25,
            label=f"held-out real images (N = {len(heldout_distances)})")
    for name, distances in named_distances.items():
        ax.hist(distances, bins=bins, density=True, histtype="step", lw=1.5, label=f"{name} (N = {len(distances)})")
    p1 = float(np.percentile(heldout_distances, 1))
    ax.axvline(p1, color="red", ls="--", lw=1, label=f"held-out 1st percentile ({p1:.3f})")
    ax.set_xlabel(f"RMS distance to the nearest training image ({side}×{side} downsampled pixels, values in [0, 1])")
    ax.set_ylabel("density")
    ax.set_title("Memorisation check: generated images closer to training images than held-out ones are?")
    ax.legend(fontsize=8)
    return save_figure(fig, path)
