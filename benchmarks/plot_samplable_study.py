"""The samplable-latent study in one picture: each autoencoder's best sampler against its reconstructions.

    python benchmarks/plot_samplable_study.py [docs/data/samplable_study.csv] [docs/figures/samplable_study.png]

Reads the measured rows (FID with 95% intervals, docs/RESULTS.md) and draws best-sampler FID
against reconstruction FID, with the lines best = recon (generated faces as good as the
decoder's own limit), best = 1.15 recon (the issue's target ratio) and best = 72.8 (the
standard AE's best prior). A lever that only moves a point along the diagonal bands trades
reconstruction for ratio; one that helps moves it down.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from aegen.plots import save_figure  # noqa: E402

STANDARD_BEST = 72.8


def read_rows(path: Path) -> list[dict]:
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else Path("docs/data/samplable_study.csv")
    out = Path(argv[1]) if len(argv) > 1 else Path("docs/figures/samplable_study.png")
    rows = read_rows(source)
    fig, ax = plt.subplots(figsize=(7.6, 5.6))
    for r in rows:
        x, y = float(r["reconstruction"]), float(r["best"])
        ax.errorbar(x, y, xerr=[[x - float(r["reconstruction_low"])], [float(r["reconstruction_high"]) - x]],
                    yerr=[[y - float(r["best_low"])], [float(r["best_high"]) - y]], fmt="o", capsize=3)
        dx, dy = (float(v) for v in r.get("label_offset", "6;-12").split(";"))
        # A label set far from its point (a crowded corner) is tied to it by a thin line.
        far = abs(dx) + abs(dy) > 40
        ax.annotate(f"{r['autoencoder']} ({r['best_sampler']})", (x, y), textcoords="offset points",
                    xytext=(dx, dy), fontsize=7, arrowprops=dict(arrowstyle="-", lw=0.5, color="gray") if far else None)
    lo = 45.0
    hi = max(100.0, *(float(r["reconstruction_high"]) + 4 for r in rows), *(float(r["best_high"]) + 4 for r in rows))
    ax.plot([lo, hi], [lo, hi], "k:", lw=1, label="best = reconstruction")
    ax.plot([lo, hi], [1.15 * lo, 1.15 * hi], "g--", lw=1, label="best = 1.15 x reconstruction (target)")
    ax.axhline(STANDARD_BEST, color="r", lw=1, ls="-.", label=f"standard AE's best prior ({STANDARD_BEST})")
    ax.set(xlim=(lo, hi), ylim=(lo, max(110.0, hi)), xlabel="reconstruction FID (held-out faces)",
           ylabel="best sampler FID", title="CelebA 64 px, 25 epochs, N = 2,000 [95%]")
    ax.legend(fontsize=7, loc="upper left")
    save_figure(fig, out)
    print(f"wrote {out} from {len(rows)} autoencoders in {source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
