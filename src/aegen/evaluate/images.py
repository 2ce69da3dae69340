"""The images the evaluation takes: (n, H, W, 3) uint8 arrays, checked here, and their box-downsampled pixels.

One home for both the feature extractors (:mod:`aegen.evaluate.features`) and the copying
statistics, which compare downsampled pixels (:mod:`aegen.evaluate.metrics.memorisation`).
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def check_images(images: np.ndarray) -> np.ndarray:
    """Return ``images`` if it is an (n, H, W, 3) uint8 array, else raise ValueError."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        shape = getattr(images, "shape", None)
        dtype = getattr(images, "dtype", None)
        raise ValueError(f"expected uint8 images of shape (n, H, W, 3), got {dtype} {shape}")
    return images


def downsample_images(images: np.ndarray, size: int) -> np.ndarray:
    """Box-filter (n, S, S, 3) uint8 images to (n, size, size, 3) float32 in [0, 1].

    A plain block mean when ``size`` divides S (exact and fast); PIL's box filter otherwise.
    """
    images = check_images(images)
    n, h, w, _ = images.shape
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if h % size == 0 and w % size == 0:
        fh, fw = h // size, w // size
        blocks = images.reshape(n, size, fh, size, fw, 3).astype(np.float32)
        return blocks.mean(axis=(2, 4)) / 255.0
    out = np.empty((n, size, size, 3), dtype=np.float32)
    for i, img in enumerate(images):
        small = Image.fromarray(img).resize((size, size), Image.Resampling.BOX)
        out[i] = np.asarray(small, dtype=np.float32) / 255.0
    return out
