"""Each PNG of a folder stored without loss: its pixel size and colours, its bytes as PNG and
re-encoded (``aegen.report.assets.compact_png``; lossless WebP at several methods), with the CPU
seconds each encoding took. Every WebP is decoded again and compared with the PNG pixel by pixel.

    python benchmarks/image_formats.py FOLDER [--methods 0,1,2]    # e.g. a report's images/ folder

Prints one line an image, then the totals.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from aegen.report.assets import compact_png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--methods", default="0,1,2", help="lossless WebP methods to try (0 fastest .. 6)")
    args = parser.parse_args(argv)
    methods = [int(m) for m in args.methods.split(",")]
    totals = {"png": 0, "compact": 0, **{f"webp{m}": 0 for m in methods}}
    seconds = {"compact": 0.0, **{f"webp{m}": 0.0 for m in methods}}
    print(f"{'image':44} {'pixels':>10} {'colours':>8} {'png':>10} {'compact':>10} "
          + " ".join(f"{'webp' + str(m):>10}" for m in methods))
    for path in sorted(args.folder.glob("*.png")):
        data = path.read_bytes()
        start = time.process_time()
        compact = compact_png(data)
        seconds["compact"] += time.process_time() - start
        with Image.open(io.BytesIO(compact)) as img:
            img.load()
            pixels = np.asarray(img.convert("RGBA"))
            source = img if img.mode in ("RGB", "RGBA") else img.convert("RGBA")
            colours = len(np.unique(pixels.reshape(-1, 4).view(np.uint32)))
            row = [f"{path.name[:44]:44}", f"{img.width}x{img.height}".rjust(10), f"{colours:>8,}",
                   f"{len(data):>10,}", f"{len(compact):>10,}"]
            totals["png"] += len(data)
            totals["compact"] += len(compact)
            for m in methods:
                start = time.process_time()
                buffer = io.BytesIO()
                source.save(buffer, format="WEBP", lossless=True, quality=100, method=m, exact=True)
                seconds[f"webp{m}"] += time.process_time() - start
                webp = buffer.getvalue()
                with Image.open(io.BytesIO(webp)) as back:
                    if not np.array_equal(np.asarray(back.convert("RGBA")), pixels):
                        raise SystemExit(f"{path}: lossless WebP method {m} changed pixels")
                totals[f"webp{m}"] += min(len(webp), len(compact))
                row.append(f"{len(webp):>10,}")
        print(" ".join(row))
    print("total bytes (WebP: the smaller of it and the compact PNG, per image):")
    for name, size in totals.items():
        spent = f" {seconds[name]:6.1f} s" if name in seconds else ""
        print(f"  {name:>8} {size:>12,} B {size / 1e6:6.2f} MB{spent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
