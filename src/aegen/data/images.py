"""Decoding one image into a square uint8 RGB array, robust to the images found in the wild.

Grayscale, palette, RGBA, CMYK and 16-bit images are converted to 8-bit RGB; a corrupt,
truncated or tiny image raises :class:`BadImage`, which the loaders count as a skip.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
# Smaller images carry too little of a face to be resized into a training image.
MIN_SIDE = 16


class BadImage(Exception):
    """An image that cannot be used; the message says why."""


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit and float images: rescale to 8 bits instead of letting PIL clip them.
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scaled = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        img = Image.fromarray(scaled.round().astype(np.uint8), mode="L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB")


def decode_image(data: bytes, image_size: int, crop: int | None = None) -> np.ndarray:
    """Decode encoded image bytes into an (image_size, image_size, 3) uint8 array.

    crop: side of the centred square crop taken first (CelebA: 140 of 178x218); None takes
    the largest centred square. Raises BadImage for anything that is not a usable image.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise BadImage(f"cannot decode: {exc}") from None
    w, h = img.size
    if min(w, h) < MIN_SIDE:
        raise BadImage(f"too small ({w}x{h} px, need at least {MIN_SIDE})")
    try:
        img = _to_rgb(img)
    except (OSError, ValueError) as exc:
        raise BadImage(f"cannot convert to RGB: {exc}") from None
    side = min(w, h) if crop is None or crop > min(w, h) else crop
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side))
    if side != image_size:
        img = img.resize((image_size, image_size), Image.Resampling.BICUBIC, reducing_gap=None)
    return np.asarray(img, dtype=np.uint8)
