"""The README's picture of the latent explorer, and its decoding speed, from a run's report in headless Chromium.

    python benchmarks/explorer_screenshot.py RUN docs/figures/explorer.png

Writes RUN's report into a temporary folder (the run's own report/ is left alone), opens it in
headless Chromium (tests/chromium.py drives it), waits for the explorer's first face, drags the
first PCA component's slider in 24 mouse moves to 3/4 of its range (+2 sigma), and saves the
explorer's section as a PNG (reduced to a 256-colour palette when over 300 kB). Prints the
report's size and the page's decode time per frame (first frame excluded: it includes the
runtime's start).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from chromium import drag_slider, explorer_ready, explorer_screenshot, open_page  # noqa: E402

MAX_BYTES = 300_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--to", type=float, default=0.75, help="where PC 1's slider is dragged, as a fraction of it")
    args = parser.parse_args(argv)
    from aegen.report import write_report

    with tempfile.TemporaryDirectory() as tmp:
        index = write_report(args.run, out_dir=Path(tmp) / "report")
        size = sum(path.stat().st_size for path in index.parent.rglob("*") if path.is_file())
        print(f"report: {size / 1e6:.1f} MB ({index.stat().st_size / 1e6:.1f} MB index.html)")
        with open_page(index, Path(tmp) / "profile") as page:
            explorer_ready(page)
            value = drag_slider(page, "pc1", 0.5, args.to, steps=24)
            frames = page.evaluate("aegenExplorer.state.decodeMs")
            explorer_screenshot(page, args.out)
            errors = page.errors()
    if errors:
        print("console errors:", *errors, sep="\n  ")
        return 1
    if args.out.stat().st_size > MAX_BYTES:
        with Image.open(args.out) as image:
            image.convert("RGB").quantize(256).save(args.out, optimize=True)
    later = np.asarray(frames[1:])
    print(f"PC 1 at {value:+.2f} sigma; {args.out}: {args.out.stat().st_size / 1e3:.0f} kB")
    print(f"decode per frame: median {np.median(later):.1f} ms, max {later.max():.1f} ms over {later.size} frames "
          f"(first frame {frames[0]:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
