"""The canvas synthetic faces are painted on: signed-distance shapes on a shared pixel grid.

Shapes live in face coordinates (u, v): origin at the face centre, v pointing down, the image
spanning 2 units at scale 1. Each face's pose (rotation, shift, scale) maps the pixel grid to
its face coordinates. A shape is a signed distance d (negative inside); its coverage ramps from
1 to 0 over ``EDGE_PX`` pixels around d = 0, which anti-aliases the edges and keeps the images
smooth enough for an autoencoder. Left/right features are drawn once, in (|u|, v).

Every layer is computed only on the band of pixel rows (its window) that holds the shape for
every face of the batch, with a margin. Pixels outside have zero coverage, and each pixel's value depends only on
its own face's factors, so a face comes out the same whatever batch it is painted in.
"""

from __future__ import annotations

import numpy as np

# Width of the anti-aliasing ramp, in pixels.
EDGE_PX = 1.25
_WINDOW_MARGIN_PX = 2
# The face sits a little below the image centre, leaving room for hair above it.
_FACE_CENTRE_Y = 0.12
# Centre of the hair ellipse, relative to the face centre.
HAIR_CENTRE_V = -0.08
# A distance added to switch a shape off for the faces that lack it.
OFF = np.float32(10.0)

# Category codes of the discrete factors "hair_colour", "hair_style" and "iris_colour"; the
# palettes below follow the same order.
HAIR_COLOURS: tuple[str, ...] = ("black", "brown", "blond", "gray", "auburn")
HAIR_STYLES: tuple[str, ...] = ("bald", "short", "long")
IRIS_COLOURS: tuple[str, ...] = ("brown", "blue", "green", "dark")

_SKIN_KNOTS = (0.0, 0.45, 0.8, 1.0)
_SKIN_RGB = np.array([[0.35, 0.21, 0.14], [0.78, 0.57, 0.44], [0.96, 0.80, 0.69], [1.0, 0.91, 0.87]])
_HAIR_RGB = np.array([[0.07, 0.06, 0.06], [0.33, 0.21, 0.12], [0.92, 0.78, 0.47],
                      [0.68, 0.67, 0.66], [0.56, 0.22, 0.10]], dtype=np.float32)
_IRIS_RGB = np.array([[0.38, 0.22, 0.10], [0.30, 0.52, 0.78], [0.30, 0.52, 0.30], [0.12, 0.08, 0.06]],
                     dtype=np.float32)
EYE_WHITE = np.array([0.96, 0.96, 0.95], dtype=np.float32)
LASH = np.array([0.12, 0.08, 0.07], dtype=np.float32)
PUPIL = np.array([0.04, 0.03, 0.03], dtype=np.float32)
MOUTH_INSIDE = np.array([0.30, 0.06, 0.07], dtype=np.float32)
TEETH = np.array([0.94, 0.92, 0.87], dtype=np.float32)
LENS = np.array([0.40, 0.42, 0.48], dtype=np.float32)


def hsv_to_rgb(hue: np.ndarray, saturation: np.ndarray, value: np.ndarray) -> np.ndarray:
    """(n,) hue, saturation, value in [0, 1] -> (n, 3) float32 RGB in [0, 1]."""
    k = (np.asarray(hue, np.float32)[:, None] + np.array([0, 2 / 3, 1 / 3], np.float32)) % 1.0
    ramp = np.clip(np.abs(k * 6 - 3) - 1, 0, 1)
    return (value[:, None] * (1 - saturation[:, None] * (1 - ramp))).astype(np.float32)


def face_colours(f: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-face RGB colours, each (n, 3) float32."""
    skin = np.stack([np.interp(f["skin_tone"], _SKIN_KNOTS, _SKIN_RGB[:, c]) for c in range(3)], axis=1)
    skin += 0.04 * f["skin_warmth"][:, None] * np.array([1.0, 0.0, -1.0])
    hair = np.clip(_HAIR_RGB[f["hair_colour"]] * f["hair_shade"][:, None], 0, 1)
    natural_lips = skin * np.array([0.86, 0.56, 0.56])
    lipstick = hsv_to_rgb(f["lipstick_hue"] % 1.0, np.full_like(f["lipstick_hue"], 0.8),
                          np.full_like(f["lipstick_hue"], 0.72))
    n = len(skin)
    return {name: np.clip(rgb, 0, 1).astype(np.float32) for name, rgb in {
        "skin": skin,
        "hair": hair,
        "brow": hair * 0.62 + 0.02,
        "iris": _IRIS_RGB[f["iris_colour"]],
        "lips": np.where(f["lipstick"][:, None] == 1, lipstick, natural_lips),
        "rim": hsv_to_rgb(np.full(n, 0.07, np.float32), np.full(n, 0.5, np.float32), f["glasses_value"]),
        "clothes": hsv_to_rgb(f["clothes_hue"], f["clothes_saturation"], f["clothes_value"]),
        "background_top": hsv_to_rgb(f["background_top_hue"], f["background_top_saturation"],
                                     f["background_top_value"]),
        "background_bottom": hsv_to_rgb(f["background_bottom_hue"], f["background_bottom_saturation"],
                                        f["background_bottom_value"]),
    }.items()}


def _scaled_radius(x, y, a, b):
    """sqrt((x / a)^2 + (y / b)^2), computed in place in one new array (shapes cover whole windows)."""
    r = x / a
    r *= r
    t = y / b
    t *= t
    r += t
    np.sqrt(r, out=r)
    return r


def oval_distance(x, y, a, b):
    """Cheap signed distance to an axis-aligned ellipse of half-axes (a, b).

    Exact along the short axis, low by up to the ratio of the axes along the long one, which
    only widens the anti-aliased edge there: fine for shapes that are nearly round.
    """
    d = _scaled_radius(x, y, a, b)
    d -= 1
    d *= np.minimum(a, b)
    return d


def ellipse_distance(x, y, a, b):
    """Signed distance to an axis-aligned ellipse of half-axes (a, b), close to exact near its edge.

    For elongated shapes (brows, eyes), whose ends oval_distance would blur.
    """
    k0 = _scaled_radius(x, y, a, b)
    k1 = _scaled_radius(x, y, a * a, b * b)
    k1 += np.float32(1e-12)
    # k0 / k1 lies between the half-axes; clipping also defines it at the very centre.
    np.divide(k0, k1, out=k1)
    np.clip(k1, np.minimum(a, b), np.maximum(a, b), out=k1)
    k0 -= 1
    k0 *= k1
    return k0


def box_distance(x, y, half_x, half_y):
    """Signed distance to an axis-aligned box, exact inside, slightly low beyond the corners."""
    return np.maximum(np.abs(x) - half_x, np.abs(y) - half_y)


class Canvas:
    """A batch of n faces being painted: planar float32 RGB (3, n, S, S) and each face's pose."""

    def __init__(self, f: dict[str, np.ndarray], size: int):
        self.size = size
        n = len(f["scale"])
        # Image coordinates of the pixel centres, (S, S) each: x grows to the right, y downwards.
        grid = (np.arange(size, dtype=np.float32) + 0.5) * np.float32(2 / size) - 1
        self.y, self.x = (np.ascontiguousarray(c) for c in np.meshgrid(grid, grid, indexing="ij"))
        self.cos, self.sin = np.cos(f["rotation"]), np.sin(f["rotation"])
        self.scale = f["scale"]
        self.cx, self.cy = f["shift_x"], _FACE_CENTRE_Y + f["shift_y"]
        per_face = lambda x: np.asarray(x, np.float32).reshape(n, 1, 1)  # noqa: E731
        # Image -> face: u = (cos (x - cx) + sin (y - cy)) / s, v = (cos (y - cy) - sin (x - cx)) / s.
        self.ux, self.uy = per_face(self.cos / self.scale), per_face(self.sin / self.scale)
        self.u0 = per_face(-(self.cos * self.cx + self.sin * self.cy) / self.scale)
        self.vx, self.vy = per_face(-self.sin / self.scale), per_face(self.cos / self.scale)
        self.v0 = per_face((self.sin * self.cx - self.cos * self.cy) / self.scale)
        # Inverse of the edge width measured in face units.
        self.sharpness = per_face(self.scale * size / (2 * EDGE_PX))
        self.rgb = np.empty((3, n, size, size), np.float32)

    def window(self, u_lo, u_hi, v_lo, v_hi) -> slice | None:
        """The pixel rows holding the face-coordinate box of every face, or None when none has one.

        Bounds are scalars or (n,) arrays; a face whose box is empty (hi <= lo) is left out.
        Windows span whole rows: full-width rows are contiguous in memory, and numpy runs
        several times faster on them than on narrower, strided windows.
        """
        u_lo, u_hi, v_lo, v_hi, _ = np.broadcast_arrays(u_lo, u_hi, v_lo, v_hi, self.cx)
        used = (u_hi > u_lo) & (v_hi > v_lo)
        if not used.any():
            return None
        s, cos, sin = self.scale[used], self.cos[used], self.sin[used]
        ys = [self.cy[used] + s * (sin * u + cos * v)
              for u in (u_lo[used], u_hi[used]) for v in (v_lo[used], v_hi[used])]
        pixels = (np.concatenate(ys) + 1) * (self.size / 2) - 0.5
        lo = max(0, int(np.floor(pixels.min())) - _WINDOW_MARGIN_PX)
        hi = min(self.size, int(np.ceil(pixels.max())) + _WINDOW_MARGIN_PX + 1)
        return slice(lo, hi) if hi > lo else None

    def coords(self, rows: slice):
        """Face coordinates (u, v), each (n, rows, S) float32, of the pixels of a window."""
        x, y = self.x[rows], self.y[rows]
        u = self.ux * x
        u += self.uy * y
        u += self.u0
        v = self.vx * x
        v += self.vy * y
        v += self.v0
        return u, v

    def coverage(self, distance, strength=None):
        """Turn a signed distance (n, rows, cols) into coverage in [0, 1], in place."""
        distance *= -self.sharpness
        distance += 0.5
        np.clip(distance, 0, 1, out=distance)
        if strength is not None:
            distance *= np.asarray(strength, np.float32).reshape(-1, 1, 1)
        return distance

    def paint(self, win, coverage, rgb, shade=None):
        """Blend per-face colours rgb (n, 3), optionally times a per-pixel shade, into a window."""
        target = self.rgb[:, :, win]
        blend = np.empty_like(coverage)
        for c in range(3):
            colour = rgb[:, c].reshape(-1, 1, 1)
            if shade is None:
                np.subtract(colour, target[c], out=blend)
            else:
                np.multiply(shade, colour, out=blend)
                blend -= target[c]
            blend *= coverage
            target[c] += blend

    def finish(self, f) -> np.ndarray:
        """Apply each face's lighting gradient; return (n, S, S, 3) uint8."""
        per_face = lambda name: f[name].reshape(-1, 1, 1) * np.float32(255)  # noqa: E731
        light = per_face("light_x") * self.x
        light += per_face("light_y") * self.y
        light += per_face("brightness")
        self.rgb *= light
        self.rgb += 0.5
        np.clip(self.rgb, 0, 255, out=self.rgb)
        return self.rgb.transpose(1, 2, 3, 0).astype(np.uint8)
