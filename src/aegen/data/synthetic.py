"""Built-in synthetic faces: aegen's data source when no CelebA is at hand.

Each face is drawn procedurally from a table of factors (skin tone, face shape, hair colour
and style, eyes, brows, nose, mouth, glasses, pose, lighting, background). Face ``i`` depends
only on ``(seed, i)``: the factor table is drawn in blocks of ``_BLOCK_SIZE`` faces, each block
from its own random stream keyed by ``(seed, block)``, so any index range can be rendered on
its own and matches the same rows of a larger range.

Binary labels follow CelebA's attribute names and conventions (int8 in {-1, 1}), so the
attribute tools treat synthetic faces and CelebA alike.
"""

from __future__ import annotations

import operator

import numpy as np

from aegen.data.synthetic_canvas import HAIR_COLOURS, HAIR_STYLES, IRIS_COLOURS
from aegen.data.synthetic_draw import paint_faces

__all__ = ["FACTOR_NAMES", "HAIR_COLOURS", "HAIR_STYLES", "IRIS_COLOURS", "SYNTHETIC_ATTR_NAMES",
           "MAX_BLUR", "attribute_labels", "render_factors", "render_faces", "soften", "synthetic_factors"]

# Order of the columns of the label array returned by render_faces.
SYNTHETIC_ATTR_NAMES: tuple[str, ...] = (
    "Smiling",
    "Mouth_Slightly_Open",
    "Wearing_Lipstick",
    "Eyeglasses",
    "Bangs",
    "Bald",
    "Long_Hair",
    "Blond_Hair",
    "Black_Hair",
    "Pale_Skin",
)

# Fixed forever: changing it changes every synthetic data set.
_BLOCK_SIZE = 256
# Pale faces draw their skin tone from [0.9, 1], the others from [0, 0.75]: the gap keeps the
# Pale_Skin label unambiguous.
_PALE_TONE = 0.85
# Pixels of a render batch (64 faces of 64 x 64): small enough that each float32 plane (1 MiB)
# stays in cache, large enough that numpy's per-call overhead is spread over many faces.
_PIXELS_PER_BATCH = 1 << 18
_MAX_IMAGE_SIZE = 1024
# Largest softening blur (Gaussian sigma, pixels) render_faces accepts.
MAX_BLUR = 8.0


# The factors drawn last, uniformly in [low, high), one array each in this order (the order of
# the draws fixes every synthetic face: append, never reorder).
UNIFORM_FACTORS = (
    ("glasses_width", 0.12, 0.15), ("glasses_height", 0.08, 0.11), ("glasses_roundness", 0.3, 1.0),
    ("glasses_rim", 0.016, 0.026), ("glasses_value", 0.03, 0.3), ("glasses_tint", 0.05, 0.35),
    ("rotation", -0.17, 0.17), ("shift_x", -0.06, 0.06), ("shift_y", -0.06, 0.06), ("scale", 0.9, 1.08),
    ("brightness", 0.8, 1.12), ("light_x", -0.18, 0.18), ("light_y", -0.12, 0.12),
    ("background_top_hue", 0.0, 1.0), ("background_bottom_hue", 0.0, 1.0), ("clothes_hue", 0.0, 1.0),
    ("background_top_saturation", 0.05, 0.6), ("background_bottom_saturation", 0.05, 0.6),
    ("clothes_saturation", 0.2, 0.8), ("background_top_value", 0.35, 0.98),
    ("background_bottom_value", 0.35, 0.98), ("clothes_value", 0.2, 0.9), ("background_angle", 0.0, 2 * np.pi),
)


def _draw_block(seed: int, block: int) -> dict[str, np.ndarray]:
    """The factor table of faces ``block * _BLOCK_SIZE ...``, each column of shape (_BLOCK_SIZE,).

    The order of the draws below is part of the data set's definition: appending new factors
    at the end keeps old faces, reordering does not.
    """
    rng = np.random.default_rng([abs(seed), int(seed < 0), block])
    n = _BLOCK_SIZE

    def uniform(low: float, high: float) -> np.ndarray:
        return rng.uniform(low, high, n).astype(np.float32)

    def category(probabilities: tuple[float, ...]) -> np.ndarray:
        return rng.choice(len(probabilities), size=n, p=probabilities).astype(np.int8)

    f: dict[str, np.ndarray] = {}
    pale = rng.random(n) < 0.2
    f["skin_tone"] = np.where(pale, uniform(0.9, 1.0), uniform(0.0, 0.75))
    f["skin_warmth"] = uniform(-1.0, 1.0)
    f["face_width"] = uniform(0.46, 0.56)
    f["face_height"] = uniform(0.60, 0.70)
    f["chin_taper"] = uniform(0.0, 0.22)

    f["hair_colour"] = category((0.28, 0.30, 0.20, 0.10, 0.12))
    f["hair_shade"] = uniform(0.85, 1.12)
    f["hair_style"] = category((0.08, 0.47, 0.45))
    f["bangs"] = ((rng.random(n) < 0.3) & (f["hair_style"] != 0)).astype(np.int8)
    f["hair_volume"] = uniform(0.02, 0.12)
    f["hair_length"] = uniform(0.0, 0.35)
    f["hairline"] = uniform(-0.50, -0.38)
    f["hairline_curve"] = uniform(0.5, 1.2)
    f["hair_parting"] = uniform(-0.3, 0.3)

    f["eye_y"] = uniform(-0.06, 0.02)
    f["eye_spacing"] = uniform(0.18, 0.23)
    f["eye_width"] = uniform(0.085, 0.105)
    f["eye_height"] = uniform(0.040, 0.055)
    f["iris_colour"] = category((0.45, 0.25, 0.15, 0.15))
    f["gaze_x"] = uniform(-0.025, 0.025)
    f["brow_gap"] = uniform(0.10, 0.14)
    f["brow_width"] = uniform(0.09, 0.12)
    f["brow_thickness"] = uniform(0.018, 0.032)
    f["brow_tilt"] = uniform(-0.25, 0.25)

    f["nose_y"] = uniform(0.18, 0.25)
    f["nose_width"] = uniform(0.05, 0.075)
    f["mouth_y"] = f["nose_y"] + uniform(0.15, 0.2)
    f["mouth_width"] = uniform(0.13, 0.19)
    f["lip_thickness"] = uniform(0.022, 0.035)
    smiling = rng.random(n) < 0.5
    f["smile"] = np.where(smiling, uniform(1.6, 3.2), uniform(-1.0, 0.5))
    opened = rng.random(n) < np.where(smiling, 0.55, 0.2)
    f["mouth_open"] = np.where(opened, uniform(0.035, 0.065), np.float32(0.0))
    f["lipstick"] = (rng.random(n) < 0.35).astype(np.int8)
    f["lipstick_hue"] = uniform(-0.07, 0.02)

    f["glasses"] = (rng.random(n) < 0.2).astype(np.int8)
    for name, low, high in UNIFORM_FACTORS:
        f[name] = uniform(low, high)
    return f


def _check_range(start, count) -> tuple[int, int]:
    try:
        start, count = operator.index(start), operator.index(count)
    except TypeError:
        raise ValueError(f"start and count must be integers, got {start!r} and {count!r}") from None
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    return start, count


def _check_seed(seed) -> int:
    try:
        return operator.index(seed)
    except TypeError:
        raise ValueError(f"seed must be an integer, got {seed!r}") from None


def _check_image_size(image_size) -> int:
    try:
        image_size = operator.index(image_size)
    except TypeError:
        raise ValueError(f"image_size must be an integer, got {image_size!r}") from None
    if not 16 <= image_size <= _MAX_IMAGE_SIZE:
        raise ValueError(f"image_size must be between 16 and {_MAX_IMAGE_SIZE}, got {image_size}")
    return image_size


# The columns of a factor table, in the order they are drawn.
FACTOR_NAMES: tuple[str, ...] = tuple(_draw_block(0, 0))


def synthetic_factors(start: int, count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """The factors behind faces ``start .. start + count - 1`` (the table render_faces draws from).

    Returns a dict of columns named FACTOR_NAMES, each of shape (count,): continuous factors
    as float32, discrete ones as int8. Conventions:

    - Image coordinates x, y run over [-1, 1], y downwards. Face coordinates (u, v) have
      their origin at the face centre, which sits at (shift_x, 0.12 + shift_y); a face unit is
      ``scale`` image units, and the face is turned by ``rotation`` radians. Sizes and
      positions of features are in face units.
    - Lighting multiplies each pixel by ``brightness + light_x * x + light_y * y``.
    - Colours of background and clothes are hue/saturation/value in [0, 1].
    - "hair_colour" indexes HAIR_COLOURS, "hair_style" HAIR_STYLES, "iris_colour"
      IRIS_COLOURS; "bangs", "glasses" and "lipstick" are 0/1; "mouth_open" is 0 for a closed
      mouth; "smile" is the curvature of the mouth (positive: corners up).
    """
    start, count = _check_range(start, count)
    seed = _check_seed(seed)
    first, last = start // _BLOCK_SIZE, (start + count - 1) // _BLOCK_SIZE
    blocks = [_draw_block(seed, b) for b in range(first, last + 1)] if count else [_draw_block(seed, 0)]
    offset = start - first * _BLOCK_SIZE
    return {name: np.concatenate([blk[name] for blk in blocks])[offset:offset + count] for name in blocks[0]}


def attribute_labels(factors: dict[str, np.ndarray]) -> np.ndarray:
    """CelebA-style labels from a factor table: (n, len(SYNTHETIC_ATTR_NAMES)) int8 in {-1, 1}."""
    hair = factors["hair_colour"]
    present = {
        "Smiling": factors["smile"] > 1.0,
        "Mouth_Slightly_Open": factors["mouth_open"] > 0,
        "Wearing_Lipstick": factors["lipstick"] == 1,
        "Eyeglasses": factors["glasses"] == 1,
        "Bangs": factors["bangs"] == 1,
        "Bald": factors["hair_style"] == HAIR_STYLES.index("bald"),
        "Long_Hair": factors["hair_style"] == HAIR_STYLES.index("long"),
        "Blond_Hair": hair == HAIR_COLOURS.index("blond"),
        "Black_Hair": hair == HAIR_COLOURS.index("black"),
        "Pale_Skin": factors["skin_tone"] > _PALE_TONE,
    }
    return np.stack([np.where(present[name], 1, -1) for name in SYNTHETIC_ATTR_NAMES], axis=1).astype(np.int8)


def _check_blur(blur) -> float:
    try:
        blur = float(blur)
    except (TypeError, ValueError):
        raise ValueError(f"blur must be a number, got {blur!r}") from None
    if not 0 <= blur <= MAX_BLUR:
        raise ValueError(f"blur must be between 0 and {MAX_BLUR} pixels, got {blur}")
    return blur


def soften(images: np.ndarray, sigma: float) -> np.ndarray:
    """Blur (n, S, S, 3) uint8 images with a Gaussian of ``sigma`` pixels, each image on its own.

    Separable, truncated at 3 sigma, edges mirrored (``numpy.pad``'s "symmetric"), float32,
    rounded back to uint8: a pure function of each image, so a face stays the same whatever
    batch it is softened in. sigma 0 returns the images unchanged.
    """
    if sigma <= 0 or len(images) == 0:
        return images
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1, dtype=np.float64) / sigma) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    x = images.astype(np.float32)
    for axis in (1, 2):
        width = [(0, 0)] * 4
        width[axis] = (radius, radius)
        padded = np.pad(x, width, mode="symmetric")
        out = np.zeros_like(x)
        length = x.shape[axis]
        for offset, weight in enumerate(taps):
            out += weight * np.take(padded, np.arange(offset, offset + length), axis=axis)
        x = out
    x += 0.5
    np.clip(x, 0, 255, out=x)
    return x.astype(np.uint8)


def render_factors(factors: dict[str, np.ndarray], image_size: int = 64,
                   blur: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Draw the faces of a factor table, such as synthetic_factors returns, possibly edited.

    Editing one factor (say "glasses" to 0) redraws the same faces with that one change.
    blur: softens every image with a Gaussian of this many pixels (sigma; see :func:`soften`).
    Returns (n, S, S, 3) uint8 images and (n, len(SYNTHETIC_ATTR_NAMES)) int8 labels.
    """
    image_size = _check_image_size(image_size)
    blur = _check_blur(blur)
    missing = sorted(set(FACTOR_NAMES) - set(factors))
    if missing:
        raise ValueError(f"factor table lacks {', '.join(missing)}")
    factors = {name: np.asarray(column) for name, column in factors.items()}
    lengths = {len(column) for column in factors.values()}
    if len(lengths) != 1:
        raise ValueError(f"factor columns differ in length: {sorted(lengths)}")
    count = lengths.pop()
    images = np.empty((count, image_size, image_size, 3), dtype=np.uint8)
    batch = max(1, _PIXELS_PER_BATCH // (image_size * image_size))
    for lo in range(0, count, batch):
        rows = slice(lo, min(lo + batch, count))
        images[rows] = soften(paint_faces({name: column[rows] for name, column in factors.items()}, image_size), blur)
    return images, attribute_labels(factors)


def render_faces(start: int, count: int, image_size: int = 64, seed: int = 0,
                 blur: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Draw faces ``start .. start + count - 1`` of the synthetic data set ``seed``.

    Returns (count, S, S, 3) uint8 RGB images (S = image_size, 16 .. 1024) and
    (count, len(SYNTHETIC_ATTR_NAMES)) int8 labels in {-1, 1}. Face ``i`` depends only on
    ``(seed, i, image_size, blur)``, not on the range it is rendered in. blur: Gaussian sigma
    in pixels applied to each finished image (0, the default: the crisp drawing).
    """
    image_size = _check_image_size(image_size)
    return render_factors(synthetic_factors(start, count, seed), image_size, blur)
