"""Side-by-side face grids of every sampled method of a run (a figure for docs/RESULTS.md).

    python benchmarks/gallery.py runs/celeba64 docs/figures/celeba64_samplers.png
"""

from __future__ import annotations

import sys

import numpy as np

from aegen.plots import image_grid, save_figure, use_agg
from aegen.run import Run

METHODS = ["uniform", "diag-gaussian", "ellipse-pca", "gaussian", "truncated-gaussian", "gmm"]


def main(run_path: str, out: str, n: int = 16) -> None:
    use_agg()
    import matplotlib.pyplot as plt

    run = Run.open(run_path)
    methods = [m for m in METHODS if (run.path / "samples" / m / "z.npy").exists()]
    fig, axes = plt.subplots(1, len(methods), figsize=(3.2 * len(methods), 3.6))
    for ax, method in zip(np.atleast_1d(axes), methods):
        Z = np.load(run.path / "samples" / method / "z.npy", allow_pickle=False)[:n]
        ax.imshow(image_grid(run.decode(Z, progress=False), ncols=4))
        ax.set_title(method)
        ax.axis("off")
    fig.suptitle(f"{n} decoded samples per method (seed 0), {run.path.name}")
    save_figure(fig, out)
    print("command: python " + " ".join(sys.argv))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
