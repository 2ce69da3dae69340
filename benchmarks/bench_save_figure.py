"""How long aegen.plots.save_figure takes against the two-pass way (lay out, then savefig with the box).

Draws the same figures both ways, alternating, and prints the medians and their ratio (one run,
one machine: compare the ratio, not the seconds). The figures are stand-ins for aegen's: a
training curve (2 panels, legend, suptitle, tight_layout) and a 4 x 4 grid of histograms with
titles (many texts, like the latent analysis' pages).

    python benchmarks/bench_save_figure.py --repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from aegen.plots import FIGURE_DPI, save_figure, use_agg


def curve():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [2.2, 1]})
    a.plot(np.arange(25), np.exp(-np.arange(25) / 9) + rng.random(25) * 0.01, "o-", label="training")
    a.set_yscale("log"), a.legend(), a.set_title("Reconstruction error per epoch"), a.grid(True, which="both")
    b.plot(np.arange(25), 300 + rng.random(25), "o-"), b.set_title("Throughput")
    fig.suptitle("Training curve")
    fig.tight_layout()
    return fig


def histograms():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(1)
    fig, axes = plt.subplots(4, 4, figsize=(10, 8))
    for k, ax in enumerate(axes.ravel()):
        ax.hist(rng.standard_normal(2000), bins=40)
        ax.set_title(f"z[{k}]: mean 0.0, sd 1.0", fontsize=8)
    fig.tight_layout()
    return fig


def two_pass(fig, path: Path) -> None:
    """What save_figure did before (and still does for vector formats or boxes beyond the figure)."""
    import matplotlib
    import matplotlib.pyplot as plt

    fig.set_dpi(FIGURE_DPI)
    fig.draw_without_rendering()
    box = fig.get_tightbbox().padded(matplotlib.rcParams["savefig.pad_inches"])
    fig.savefig(path, dpi=FIGURE_DPI, bbox_inches=box)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    use_agg()
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in (("training curve", curve), ("4 x 4 histograms", histograms)):
            times = {"save_figure": [], "two-pass": []}
            for _ in range(args.repeats):
                for way, save in (("save_figure", save_figure), ("two-pass", two_pass)):
                    fig = make()
                    start = time.perf_counter()
                    save(fig, Path(tmp) / f"{way}.png")
                    times[way].append(time.perf_counter() - start)
            new, old = statistics.median(times["save_figure"]), statistics.median(times["two-pass"])
            print(f"{name}: save_figure {new * 1000:.0f} ms, two-pass {old * 1000:.0f} ms, "
                  f"ratio {new / old:.2f} (medians of {args.repeats})")


if __name__ == "__main__":
    main()
