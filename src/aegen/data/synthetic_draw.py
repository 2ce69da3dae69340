"""Painting synthetic faces layer by layer, back to front, from their factor table.

Sizes and positions are in face units (see ``synthetic_canvas``); ``g[name]`` is a factor as an
(n, 1, 1) float32 array that broadcasts against a window of pixels, ``f[name]`` the same as (n,).
"""

from __future__ import annotations

import numpy as np

from aegen.data.synthetic_canvas import (EYE_WHITE, HAIR_CENTRE_V, HAIR_STYLES, LASH, LENS, MOUTH_INSIDE, OFF, PUPIL,
                                         TEETH, Canvas, box_distance, ellipse_distance, face_colours, oval_distance)

_BALD, _LONG = HAIR_STYLES.index("bald"), HAIR_STYLES.index("long")


def _background(cv: Canvas, f, rgb) -> None:
    angle = f["background_angle"].reshape(-1, 1, 1)
    t = 0.5 * np.cos(angle) * cv.x
    t += 0.5 * np.sin(angle) * cv.y
    t += 0.5
    np.clip(t, 0, 1, out=t)
    top, bottom = rgb["background_top"], rgb["background_bottom"]
    for c in range(3):
        cv.rgb[c] = top[:, c, None, None] + t * (bottom[:, c] - top[:, c])[:, None, None]


def _hair_shape(f):
    """Per-face hair ellipse: half-width, half-height above its centre, half-height below it.

    Long hair stretches the lower half of the ellipse down to the shoulders.
    """
    # Bald heads keep only a thin rim of it at the sides.
    half_u = f["face_width"] + np.where(f["hair_style"] == _BALD, 0.035, 0.07 + f["hair_volume"])
    half_v = f["face_height"] + 0.05 + 0.5 * f["hair_volume"]
    below = np.where(f["hair_style"] == _LONG, f["face_height"] + f["hair_length"] - HAIR_CENTRE_V, half_v)
    return half_u, half_v, below.astype(np.float32)


def _hair_back(cv: Canvas, f, g, rgb):
    """Hair behind the head (side tufts only when bald); returns (rows, hair distance) for _hair_front."""
    half_u, half_v, below = _hair_shape(f)
    rows = cv.window(-half_u, half_u, HAIR_CENTRE_V - half_v, HAIR_CENTRE_V + below)
    u, v = cv.coords(rows)
    v -= HAIR_CENTRE_V
    # Squeeze the part below the centre so that the ellipse reaches down `below` there.
    stretch = (half_v / below).reshape(-1, 1, 1)
    v = np.minimum(v, 0) + stretch * np.maximum(v, 0)
    hair = oval_distance(u, v, half_u.reshape(-1, 1, 1), half_v.reshape(-1, 1, 1))
    # Bald heads keep a band of hair at the sides, from the temples down to the ears.
    band = np.where(g["hair_style"] == _BALD, np.float32(0.17), OFF)
    np.abs(v, out=v)
    v -= band
    np.maximum(v, hair, out=v)
    cv.paint(rows, cv.coverage(v), rgb["hair"] * 0.8)
    return rows, hair


def _body(cv: Canvas, f, g, rgb) -> None:
    """Neck (its top hidden by the face), shoulders in clothes, and ears unless long hair hides them."""
    a, b = f["face_width"], f["face_height"]
    rows = cv.window(-2.1 * a, 2.1 * a, 0.55 * b, b + 1.2)
    u, v = cv.coords(rows)
    neck = box_distance(u, v - g["face_height"] - 0.05, 0.5 * g["face_width"], 0.45 * g["face_height"] + 0.05)
    cv.paint(rows, cv.coverage(neck), rgb["skin"] * 0.78)
    clothes = oval_distance(u, v - (g["face_height"] + 0.62), 2.0 * g["face_width"], 0.5)
    cv.paint(rows, cv.coverage(clothes), rgb["clothes"])
    rows = cv.window(-(a + 0.1), a + 0.1, -0.12, 0.18)
    u, v = cv.coords(rows)
    ears = oval_distance(np.abs(u) - 0.96 * g["face_width"], v - 0.03, 0.065, 0.11)
    ears += np.where(g["hair_style"] == _LONG, OFF, 0)
    cv.paint(rows, cv.coverage(ears), rgb["skin"] * 0.88)


def _face(cv: Canvas, f, g, rgb) -> None:
    """An egg-shaped oval, narrower at the chin, darker towards its edge."""
    a, b = f["face_width"], f["face_height"]
    win = cv.window(-a, a, -b, b)
    u, v = cv.coords(win)
    u = u * (1 + g["chin_taper"] * np.clip(v / g["face_height"], 0, 1))
    r2 = (u / g["face_width"]) ** 2 + (v / g["face_height"]) ** 2
    shade = 1.06 - 0.22 * r2
    d = (np.sqrt(r2) - 1) * g["face_width"]
    cv.paint(win, cv.coverage(d), rgb["skin"], shade=shade)


def _hairline(f):
    """Per-face coefficients of the hairline v = h0 + c_abs |u| + c_sq u^2 + c_lin u + fringe(u)."""
    style, bangs = f["hair_style"], f["bangs"] == 1
    h0 = np.where(bangs, f["eye_y"] - f["brow_gap"] - 0.07, f["hairline"])
    h0 = np.where(style == _BALD, -OFF, h0)
    c_abs = np.where((style == _LONG) & ~bangs, 0.6, 0.0)
    c_sq = np.where(bangs, 0.35, np.where(style == _LONG, 0.3, f["hairline_curve"]))
    c_lin = np.where(bangs, 0.0, f["hair_parting"] * np.where(style == _LONG, 0.5, 1.0))
    fringe = np.where(bangs, 0.05, 0.0)
    return [np.asarray(c, np.float32) for c in (h0, c_abs, c_sq, c_lin, fringe)]


def _hair_front(cv: Canvas, f, g, rgb, hair) -> None:
    """Hair over the forehead: the hair shape of _hair_back above the hairline (none when bald)."""
    half_u, half_v, below = _hair_shape(f)
    h0, c_abs, c_sq, c_lin, fringe = _hairline(f)
    lowest = h0 + c_abs * half_u + c_sq * half_u ** 2 + np.abs(c_lin) * half_u + fringe
    lowest = np.minimum(lowest, HAIR_CENTRE_V + below)
    rows = cv.window(-half_u, half_u, HAIR_CENTRE_V - half_v, lowest)
    if rows is None:
        return
    # The window lies inside the one of _hair_back, which starts at hair[0].
    hair_rows, hair = hair
    hair = hair[:, rows.start - hair_rows.start:rows.stop - hair_rows.start]
    u, v = cv.coords(rows)
    per_face = lambda x: x.reshape(-1, 1, 1)  # noqa: E731
    zigzag = u * 8
    zigzag -= np.floor(zigzag)
    zigzag -= 0.5
    np.abs(zigzag, out=zigzag)
    line = per_face(c_sq) * u
    line += per_face(c_lin)
    line *= u
    line += per_face(c_abs) * np.abs(u)
    line += per_face(fringe) * zigzag
    line += per_face(h0)
    v -= line
    np.maximum(v, hair, out=v)
    cv.paint(rows, cv.coverage(v), rgb["hair"])


def _eyes(cv: Canvas, f, g, rgb) -> None:
    """Eyes with a lash outline, iris and pupil (both looking the same way), and brows above."""
    reach = f["eye_spacing"] + np.maximum(f["eye_width"], f["brow_width"] + 0.01) + 0.03
    top = f["eye_y"] - f["brow_gap"] - 0.3 * f["brow_width"] - f["brow_thickness"]
    rows = cv.window(-reach, reach, top, f["eye_y"] + f["eye_height"] + 0.03)
    u, v = cv.coords(rows)
    ue, ve = np.abs(u) - g["eye_spacing"], v - g["eye_y"]
    cv.paint(rows, cv.coverage(oval_distance(ue, ve, g["eye_width"] + 0.012, g["eye_height"] + 0.014)), LASH[None])
    white = ellipse_distance(ue, ve, g["eye_width"], g["eye_height"])
    cv.paint(rows, cv.coverage(white.copy()), EYE_WHITE[None])
    iris_radius = 0.95 * g["eye_height"]
    iris = np.sqrt((np.abs(u - g["gaze_x"]) - g["eye_spacing"]) ** 2 + ve ** 2) - iris_radius
    pupil = iris + 0.55 * iris_radius
    cv.paint(rows, cv.coverage(np.maximum(iris, white)), rgb["iris"])
    cv.paint(rows, cv.coverage(np.maximum(pupil, white)), PUPIL[None])
    # Brows: tilted thin ellipses; a positive tilt lifts their outer ends.
    ue -= 0.01
    ve += g["brow_gap"]
    cos, sin = np.cos(g["brow_tilt"]), np.sin(g["brow_tilt"])
    brows = ellipse_distance(cos * ue - sin * ve, cos * ve + sin * ue, g["brow_width"], g["brow_thickness"])
    cv.paint(rows, cv.coverage(brows), rgb["brow"])


def _nose(cv: Canvas, f, g, rgb) -> None:
    """A shadow along one side of the nose, a shaded tip and two nostrils."""
    win = cv.window(-0.12, 0.12, f["eye_y"], f["nose_y"] + 0.08)
    u, v = cv.coords(win)
    w, tip = g["nose_width"], g["nose_y"]
    ridge = box_distance(u + 0.6 * w, v - 0.5 * (g["eye_y"] + tip), 0.012, 0.5 * (tip - g["eye_y"]))
    cv.paint(win, cv.coverage(ridge, 0.35), rgb["skin"] * 0.75)
    cv.paint(win, cv.coverage(oval_distance(u, v - tip, w, 0.7 * w), 0.5), rgb["skin"] * 0.72)
    nostrils = oval_distance(np.abs(u) - 0.45 * w, v - tip - 0.25 * w, 0.25 * w, 0.17 * w)
    cv.paint(win, cv.coverage(nostrils, 0.8), rgb["skin"] * 0.4)


def _mouth(cv: Canvas, f, g, rgb) -> None:
    """Lips around a curved centre line (smile: corners up), open or closed."""
    mw, t, gap = f["mouth_width"], f["lip_thickness"], f["mouth_open"]
    corner = -f["smile"] * mw ** 2
    win = cv.window(-mw - 0.02, mw + 0.02, f["mouth_y"] + np.minimum(corner, 0) - t - gap - 0.02,
                    f["mouth_y"] + np.maximum(corner, 0) + 1.3 * t + gap + 0.02)
    u, v = cv.coords(win)
    mw, t, half_gap = g["mouth_width"], g["lip_thickness"], 0.5 * g["mouth_open"]
    yy = v - g["mouth_y"] + g["smile"] * u * u
    w = np.maximum(1 - (u / mw) ** 2, 0)
    side = np.abs(u)
    lips = np.maximum(np.maximum(yy - (1.3 * t + half_gap) * w, -yy - (t + half_gap) * w), side - mw)
    cv.paint(win, cv.coverage(lips), rgb["lips"])
    # For a closed mouth the inside shrinks to the line between the lips.
    inside = np.maximum(np.maximum(yy - half_gap * w, -yy - half_gap * w), side - 0.92 * mw)
    teeth = np.maximum(inside, yy + 0.1 * half_gap * w) + np.where(half_gap > 0, 0, OFF)
    cv.paint(win, cv.coverage(inside), MOUTH_INSIDE[None])
    cv.paint(win, cv.coverage(teeth), TEETH[None])


def _glasses(cv: Canvas, f, g, rgb) -> None:
    """Rounded-rectangle rims around the eyes, tinted lenses, a bridge and the arms."""
    has = f["glasses"] == 1
    reach = np.where(has, f["face_width"] + 0.02, -1.0)
    top = f["eye_y"] - f["glasses_height"] - f["glasses_rim"] - 0.02
    win = cv.window(-reach, reach, top, f["eye_y"] + f["glasses_height"] + f["glasses_rim"] + 0.02)
    if win is None:
        return
    u, v = cv.coords(win)
    off = np.where(g["glasses"] == 1, 0, OFF)
    gu, gv = np.abs(np.abs(u) - g["eye_spacing"]), np.abs(v - g["eye_y"] - 0.005)
    radius = g["glasses_roundness"] * g["glasses_height"]
    qu, qv = gu - (g["glasses_width"] - radius), gv - (g["glasses_height"] - radius)
    lens = (np.sqrt(np.maximum(qu, 0) ** 2 + np.maximum(qv, 0) ** 2) + np.minimum(np.maximum(qu, qv), 0)
            - radius + off)
    cv.paint(win, cv.coverage(lens.copy(), f["glasses_tint"]), LENS[None])
    rim = g["glasses_rim"]
    frame = np.abs(lens) - rim
    bridge = box_distance(u, v - g["eye_y"] + 0.015, g["eye_spacing"] - g["glasses_width"], 0.8 * rim)
    arm_start = g["eye_spacing"] + g["glasses_width"]
    arm_half = 0.5 * (0.98 * g["face_width"] - arm_start)
    arms = box_distance(np.abs(u) - arm_start - arm_half, v - g["eye_y"] + 0.4 * g["glasses_height"], arm_half,
                        0.7 * rim)
    frame = np.minimum(frame, np.minimum(bridge, arms) + off)
    cv.paint(win, cv.coverage(frame), rgb["rim"])


def paint_faces(f: dict[str, np.ndarray], size: int) -> np.ndarray:
    """Paint the faces of a factor table (columns of shape (n,)); returns (n, size, size, 3) uint8."""
    f = {name: np.asarray(column, np.float32) if column.dtype.kind == "f" else column for name, column in f.items()}
    g = {name: np.asarray(column, np.float32).reshape(-1, 1, 1) for name, column in f.items()}
    rgb = face_colours(f)
    cv = Canvas(f, size)
    _background(cv, f, rgb)
    hair = _hair_back(cv, f, g, rgb)
    _body(cv, f, g, rgb)
    _face(cv, f, g, rgb)
    _hair_front(cv, f, g, rgb, hair)
    for layer in (_eyes, _nose, _mouth, _glasses):
        layer(cv, f, g, rgb)
    return cv.finish(f)
