"""Plots of a sweep: FID and KID (with their 95% intervals), precision and recall against one parameter."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aegen.evaluate.figures import interval_errors
from aegen.evaluate.protocol.record import EvalProtocol
from aegen.evaluate.protocol.rows import EvalRow, as_rows, feature_label
from aegen.plots import save_figure, use_agg

PANELS = (("fid", "FID (95% interval)", "lower is better"), ("kid", "KID × 10³ (95% interval)", "lower is better"),
          ("precision", "precision (k = 3)", "higher is better"), ("recall", "recall (k = 3)", "higher is better"))


def _is_numeric(values: list) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _groups(rows: list[EvalRow], grid: dict, param: str) -> dict[str, list[EvalRow]]:
    """Rows grouped by the values of the other parameters, each group ordered along ``param``."""
    others = [p for p in grid if p != param]
    groups: dict[str, list[EvalRow]] = {}
    for row in rows:
        label = ", ".join(f"{p}={row.params.get(p)}" for p in others) or "all"
        groups.setdefault(label, []).append(row)
    order = {v: i for i, v in enumerate(grid[param])}
    return {k: sorted(g, key=lambda r: order.get(r.params.get(param), 0)) for k, g in groups.items()}


def sweep_figure(result: dict, param: str, path: str | Path) -> Path:
    """2 x 2 panels of FID, KID, precision and recall against ``param``; one line per setting of
    the other parameters; baselines as dashed horizontal lines."""
    use_agg()
    import matplotlib.pyplot as plt

    grid, rows, protocol = result["grid"], as_rows(result["rows"]), EvalProtocol.from_dict(result["protocol"])
    values = grid[param]
    numeric = _is_numeric(values)
    positions = {v: (v if numeric else i) for i, v in enumerate(values)}
    groups = _groups(rows, grid, param)
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, max(len(groups), 1)))
    label = feature_label(protocol)
    tag = "" if label == "Inception" else f" [{label}]"
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5), sharex=True)
    for ax, (key, title, hint) in zip(axes.ravel(), PANELS, strict=True):
        scale = 1e3 if key == "kid" else 1.0
        for colour, (group, members) in zip(colours, groups.items(), strict=True):
            x = [positions[r.params.get(param)] for r in members]
            y = [np.nan if r.value(key) is None else scale * r.value(key) for r in members]
            ax.errorbar(x, y, yerr=interval_errors(members, key, scale), marker="o", ms=4, capsize=3, color=colour,
                        label=group)
        for b_index, baseline in enumerate(as_rows(result.get("baselines"))):
            if baseline.value(key) is not None:
                ax.axhline(scale * baseline.value(key), ls="--", lw=1, color=f"C{(b_index + 3) % 10}",
                           label=f"{baseline.method} (baseline)")
        ax.set_title(f"{title}{tag if key in ('fid', 'kid') else ''}")
        ax.set_ylabel(hint)
        if not numeric:
            ax.set_xticks(list(positions.values()), [str(v) for v in values])
    for ax in axes[1]:
        ax.set_xlabel(param)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if not handles:
        handles, labels = axes[1, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, title="setting")
    fig.suptitle(f"{result['method']}: metrics against {param} (N = {protocol.n} generated vs {protocol.reference.n} "
                 f"held-out per point, seed {protocol.seed}, features {label})")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return save_figure(fig, path)
