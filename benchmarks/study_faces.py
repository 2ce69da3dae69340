"""Faces of several evaluation rows side by side: the first K faces of each row's sample grid.

    python benchmarks/study_faces.py --out docs/figures/celeba64_adversarial_faces.jpg --k 8 \\
        runs/study/z64+flip/eval/samples/gmm.png runs/study/z64+flip+adv/eval/samples/gmm.png ...

Each GRID is a sample grid that ``aegen evaluate`` writes (EVAL/samples/METHOD.png: the first
faces of the row's first set, 8 per line, 2 px apart, shown at 2x for 64 px images); the figure
stacks the first K faces of each grid, one line per grid, in the order given.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from aegen.plots import image_grid, save_image

PAD = 2  # aegen.plots.image_grid's default, at the grid's own scale


def first_faces(grid_path: Path, k: int, image_size: int) -> np.ndarray:
    """(k, S, S, 3) uint8: the first k faces of an evaluation's sample grid, at their own size."""
    grid = np.asarray(Image.open(grid_path).convert("RGB"))
    scale = grid.shape[1] // (8 * (image_size + PAD) + PAD)
    if scale < 1:
        raise SystemExit(f"{grid_path}: narrower than 8 faces of {image_size} px")
    cell, pad, size = (image_size + PAD) * scale, PAD * scale, image_size * scale
    faces = [grid[pad:pad + size, pad + i * cell:pad + i * cell + size] for i in range(k)]
    return np.stack([face[::scale, ::scale] for face in faces])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grids", nargs="+", type=Path, help="EVAL/samples/METHOD.png files, one line each")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--k", type=int, default=8, choices=range(1, 9), metavar="K", help="faces per line (1-8)")
    parser.add_argument("--image-size", type=int, default=64)
    args = parser.parse_args()
    faces = np.concatenate([first_faces(g, args.k, args.image_size) for g in args.grids])
    path = save_image(args.out.with_suffix(".png"), image_grid(faces, ncols=args.k), scale=2)
    if args.out.suffix.lower() in (".jpg", ".jpeg"):
        Image.open(path).save(args.out, quality=90)
        path.unlink()
    print(args.out)


if __name__ == "__main__":
    main()
