"""Shared plotting helpers: image grids and matplotlib figures written atomically."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from aegen.io import atomic_path

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn, not with aegen.plots
    from matplotlib.transforms import Bbox


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
    with atomic_path(path, durable=False) as tmp:
        img.save(tmp, format="PNG")
    return path


def save_image_grid(path: str | os.PathLike, images: np.ndarray, ncols: int | None = None, scale: int = 1) -> Path:
    """Tile (n, H, W, 3) uint8 images and save the grid as PNG."""
    return save_image(path, image_grid(images, ncols=ncols), scale=scale)


# The resolution of every plot, in one place. The report shows a plot in a card: two cards side by
# side in its 1320 px column leave an image about 600 CSS pixels wide, one card per row (a window
# under about 1180 px) at most about 1110, and a figure outside a gallery is at most 960. 1280
# pixels are twice the two-card width, enough for a screen of device pixel ratio 2, and as many as
# or more than the widest card shows at ratio 1; pixels beyond that cost bytes (a plot's PNG grows
# with its area) and add no detail on such screens. A plot is drawn at FIGURE_DPI unless it would be
# wider than MAX_FIGURE_WIDTH pixels, then at the lower dpi that makes it that wide. Text and line
# widths are in points, so the layout is the same at any dpi, drawn with fewer pixels per point.
FIGURE_DPI = 120
MAX_FIGURE_WIDTH = 1280


def save_figure(fig, path: str | os.PathLike, dpi: float = FIGURE_DPI, max_width: int = MAX_FIGURE_WIDTH) -> Path:
    """Save a matplotlib figure atomically, cropped to its contents, and close it.

    Raster formats are drawn at ``dpi``, or at the lower dpi that makes the image ``max_width``
    pixels wide. The crop is matplotlib's ``bbox_inches="tight"`` box. A PNG whose box lies inside
    the figure (nearly every plot) is drawn once and its pixels cropped to the box
    (:func:`_cropped_png`); a PNG with an artist past the figure's edge is saved by ``savefig``
    with the box measured in that drawing, and any other figure (a vector format, or savefig
    colours of its own) is laid out first, so that the width is known before drawing, and saved
    by ``savefig`` with that box (two passes each).
    """
    import matplotlib
    import matplotlib.pyplot as plt

    path = Path(path)
    pad = matplotlib.rcParams["savefig.pad_inches"]
    # savefig paints the figure's own face colour around it unless told otherwise.
    plain = not matplotlib.rcParams["savefig.transparent"] and matplotlib.rcParams["savefig.facecolor"] == "auto"
    try:
        if path.suffix.lower() == ".png" and plain:
            box = _cropped_png(fig, path, dpi, max_width, pad)
            if box is None:
                return path
        else:
            fig.set_dpi(dpi)  # text is measured at the dpi it is drawn at: the box is savefig's own box at that dpi
            fig.draw_without_rendering()  # places every artist (a layout engine included) without drawing pixels
            box = fig.get_tightbbox().padded(pad)
        if box.width > 0:  # a quarter pixel of margin: rounding cannot take the image past max_width
            dpi = min(float(dpi), (max_width - 0.25) / box.width)
        with atomic_path(path, durable=False) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches=box)
    finally:
        plt.close(fig)
    return path


def _cropped_png(fig, path: Path, dpi: float, max_width: int, pad: float) -> Bbox | None:
    """Draw ``fig`` once and write the pixels inside its padded tight box as a PNG.

    What ``savefig(bbox_inches=box)`` writes, up to where the box's edges fall within a pixel
    (savefig shifts the figure by a fraction of a pixel; the crop here starts at the nearest
    whole one), without its second drawing: where the padding reaches past the figure's edge,
    savefig paints the figure's face colour, and so does this. A figure wider than ``max_width``
    at ``dpi`` is drawn at the dpi that makes it that wide, and a second time when its box is more
    than 1% narrower (so that the box, not the figure, ends up ``max_width`` wide, as savefig's
    would). None when written; the padded box, with nothing written, when an artist itself reaches
    past the figure's edge (savefig would draw it there: the caller saves with that box).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import to_rgba
    from matplotlib.image import imsave

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    width, height = fig.get_size_inches()
    # A box inside the figure is at most as wide as the figure: drawn at a dpi that fits the whole
    # figure into max_width, the box fits too.
    drawn_at = min(float(dpi), (max_width - 0.25) / width)
    fig.set_dpi(drawn_at)
    canvas.draw()
    tight = fig.get_tightbbox(canvas.get_renderer())  # inches, origin at the bottom left
    box = tight.padded(pad)
    inside = tight.x0 >= 0 and tight.y0 >= 0 and tight.x1 <= width and tight.y1 <= height
    if not inside or box.width <= 0:
        return box
    wanted = min(float(dpi), (max_width - 0.25) / box.width)  # the dpi savefig would draw the box at
    if wanted > drawn_at * 1.01:  # wide margins cropped away: draw again, as sharp as the two-pass way
        fig.set_dpi(wanted)
        canvas.draw()
        drawn_at = wanted
    dpi = drawn_at
    pixels = np.asarray(canvas.buffer_rgba())  # (H, W, 4), rows from the top
    left, top = round(box.x0 * dpi), round((height - box.y1) * dpi)
    crop = np.empty((int(box.height * dpi), int(box.width * dpi), 4), np.uint8)
    crop[...] = np.round(np.array(to_rgba(fig.get_facecolor())) * 255).astype(np.uint8)
    rows = slice(max(top, 0), min(top + crop.shape[0], pixels.shape[0]))
    cols = slice(max(left, 0), min(left + crop.shape[1], pixels.shape[1]))
    crop[rows.start - top:rows.stop - top, cols.start - left:cols.stop - left] = pixels[rows, cols]
    with atomic_path(path, durable=False) as tmp:
        imsave(tmp, crop, format="png", dpi=dpi)
    return None


def use_agg() -> None:
    """Select the non-interactive backend so figures render on machines without a screen."""
    import matplotlib

    matplotlib.use("Agg")
