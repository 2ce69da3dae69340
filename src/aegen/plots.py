"""Shared plotting helpers: image grids and matplotlib figures written atomically."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image

from aegen.io import atomic_path


def image_grid(images: np.ndarray, ncols: int | None = None, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """Tile images into one picture.

    images: (n, H, W, 3) uint8. Returns (rows*(H+pad)+pad, ncols*(W+pad)+pad, 3) uint8.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected images of shape (n, H, W, 3), got {images.shape}")
    n, h, w, _ = images.shape
    if n == 0:
        raise ValueError("no images to tile")
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, 3), pad_value, dtype=np.uint8)
    for k in range(n):
        r, c = divmod(k, ncols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y:y + h, x:x + w] = images[k]
    return grid


def save_image(path: str | os.PathLike, image: np.ndarray, scale: int = 1) -> Path:
    """Save an (H, W, 3) uint8 array as PNG atomically, optionally upscaled by ``scale``."""
    img = Image.fromarray(np.asarray(image, dtype=np.uint8))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    path = Path(path)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return path


def save_image_grid(path: str | os.PathLike, images: np.ndarray, ncols: int | None = None, scale: int = 1) -> Path:
    """Tile (n, H, W, 3) uint8 images and save the grid as PNG."""
    return save_image(path, image_grid(images, ncols=ncols), scale=scale)


def save_figure(fig, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def use_agg() -> None:
    """Select the non-interactive backend so figures render on machines without a screen."""
    import matplotlib

    matplotlib.use("Agg")
