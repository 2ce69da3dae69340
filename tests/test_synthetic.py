"""The built-in synthetic faces: shapes, determinism per index, labels that match the drawing."""

from __future__ import annotations

import numpy as np
import pytest

from aegen.data.synthetic import (FACTOR_NAMES, HAIR_STYLES, SYNTHETIC_ATTR_NAMES, attribute_labels,
                                  render_factors, render_faces, synthetic_factors)
from aegen.data.synthetic_canvas import _FACE_CENTRE_Y


def _column(name: str) -> int:
    return SYNTHETIC_ATTR_NAMES.index(name)


def _probe(images: np.ndarray, factors: dict, u, v) -> np.ndarray:
    """(n, 3) RGB in [0, 255] of each face at face coordinates (u, v), with its lighting divided out."""
    size, n = images.shape[1], len(images)
    u, v = np.broadcast_to(u, (n,)), np.broadcast_to(v, (n,))
    cos, sin, scale = np.cos(factors["rotation"]), np.sin(factors["rotation"]), factors["scale"]
    x = factors["shift_x"] + scale * (cos * u - sin * v)
    y = _FACE_CENTRE_Y + factors["shift_y"] + scale * (sin * u + cos * v)
    cols = np.clip(np.round((x + 1) * size / 2 - 0.5).astype(int), 0, size - 1)
    rows = np.clip(np.round((y + 1) * size / 2 - 0.5).astype(int), 0, size - 1)
    # Pixel centres, where the lighting gradient was evaluated.
    px, py = (cols + 0.5) * 2 / size - 1, (rows + 0.5) * 2 / size - 1
    light = factors["brightness"] + factors["light_x"] * px + factors["light_y"] * py
    return images[np.arange(n), rows, cols].astype(float) / light[:, None]


@pytest.mark.parametrize("size", [64, 96, 128])
def test_shapes_and_dtypes(size):
    images, labels = render_faces(0, 6, image_size=size, seed=3)
    assert images.shape == (6, size, size, 3) and images.dtype == np.uint8
    assert labels.shape == (6, len(SYNTHETIC_ATTR_NAMES)) and labels.dtype == np.int8
    assert set(np.unique(labels)) <= {-1, 1}
    # Faces, not blank frames: every image has contrast.
    assert images.reshape(6, -1).std(axis=1).min() > 20


def test_empty_range():
    images, labels = render_faces(5, 0, image_size=32)
    assert images.shape == (0, 32, 32, 3) and labels.shape == (0, len(SYNTHETIC_ATTR_NAMES))
    assert all(len(column) == 0 for column in synthetic_factors(5, 0).values())


def test_deterministic_and_per_index():
    images, labels = render_faces(0, 15, image_size=64, seed=7)
    again, again_labels = render_faces(0, 15, image_size=64, seed=7)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(labels, again_labels)
    part, part_labels = render_faces(10, 5, image_size=64, seed=7)
    np.testing.assert_array_equal(part, images[10:15])
    np.testing.assert_array_equal(part_labels, labels[10:15])


def test_per_index_across_blocks_and_batches():
    # 250..261 straddles a block of the factor table; 40 faces at 128 px span several render batches.
    whole, _ = render_faces(230, 40, image_size=128, seed=2)
    part, _ = render_faces(250, 12, image_size=128, seed=2)
    np.testing.assert_array_equal(part, whole[20:32])
    factors, factors_part = synthetic_factors(0, 600, seed=2), synthetic_factors(255, 300, seed=2)
    for name in FACTOR_NAMES:
        np.testing.assert_array_equal(factors_part[name], factors[name][255:555])


def test_seeds_differ():
    base, _ = render_faces(0, 8, image_size=32, seed=0)
    for seed in (1, -1, 2**40):
        other, _ = render_faces(0, 8, image_size=32, seed=seed)
        assert np.abs(base.astype(int) - other.astype(int)).mean() > 10
    minus, _ = render_faces(0, 8, image_size=32, seed=-1)
    plus, _ = render_faces(0, 8, image_size=32, seed=1)
    assert not np.array_equal(minus, plus)


def test_factor_table():
    factors = synthetic_factors(0, 50, seed=1)
    assert tuple(factors) == FACTOR_NAMES
    for name, column in factors.items():
        assert column.shape == (50,), name
        assert column.dtype in (np.float32, np.int8), name
    continuous = [name for name in FACTOR_NAMES if factors[name].dtype == np.float32]
    assert len(continuous) >= 30
    # A factor that should vary does vary.
    assert factors["face_width"].std() > 0.01 and len(np.unique(factors["hair_colour"])) > 2


def test_label_prevalence():
    images, labels = render_faces(0, 500, image_size=16, seed=0)
    np.testing.assert_array_equal(labels, attribute_labels(synthetic_factors(0, 500, seed=0)))
    prevalence = (labels == 1).mean(axis=0)
    for name, p in zip(SYNTHETIC_ATTR_NAMES, prevalence):
        assert 0.04 <= p <= 0.7, f"{name}: prevalence {p:.3f}"
    # Attributes that cannot go together never do.
    bald, bangs, long_hair = (labels[:, _column(n)] == 1 for n in ("Bald", "Bangs", "Long_Hair"))
    assert not (bald & bangs).any() and not (bald & long_hair).any()


def test_hair_colour_is_visible():
    """Just above the forehead, Blond_Hair faces show yellowish light hair, Black_Hair ones black hair."""
    factors = synthetic_factors(0, 300, seed=4)
    images, labels = render_factors(factors, image_size=64)
    hair = _probe(images, factors, 0.0, -factors["face_height"] - 0.06)
    has_hair = labels[:, _column("Bald")] == -1
    blond = hair[has_hair & (labels[:, _column("Blond_Hair")] == 1)]
    black = hair[has_hair & (labels[:, _column("Black_Hair")] == 1)]
    others = hair[has_hair & (labels[:, _column("Blond_Hair")] == -1) & (labels[:, _column("Black_Hair")] == -1)]
    assert len(blond) > 20 and len(black) > 20 and len(others) > 20
    r, g, b = blond.T
    assert (r > g).all() and (g > b).all() and (r - b > 0.35 * r).all() and (blond.mean(axis=1) > 110).all()
    assert black.max() < 40
    # Every other hair colour (brown, gray, auburn) is lighter than black and less yellow than blond.
    assert others.mean(axis=1).min() > black.mean(axis=1).max()
    yellowness = lambda rgb: (rgb[:, 1] - rgb[:, 2]) / rgb.mean(axis=1)  # noqa: E731
    assert (yellowness(others) < yellowness(blond).min()).mean() > 0.9


def test_pale_skin_is_visible():
    """On the cheek, Pale_Skin faces have near-white skin and the others clearly darker skin."""
    factors = synthetic_factors(0, 300, seed=5)
    images, labels = render_factors(factors, image_size=64)
    cheek = _probe(images, factors, 0.25, 0.2).mean(axis=1)
    pale = labels[:, _column("Pale_Skin")] == 1
    assert pale.sum() > 20
    assert cheek[pale].min() > 200
    assert cheek[~pale].max() < cheek[pale].min() and np.median(cheek[~pale]) < 170


@pytest.mark.parametrize("attribute, factor, absent", [
    ("Eyeglasses", "glasses", 0),
    ("Bangs", "bangs", 0),
    ("Mouth_Slightly_Open", "mouth_open", 0.0),
    ("Wearing_Lipstick", "lipstick", 0),
])
def test_label_marks_exactly_the_faces_drawn_with_it(attribute, factor, absent):
    """Removing the feature redraws exactly the faces labelled with it, and only near the feature."""
    factors = synthetic_factors(0, 64, seed=6)
    images, labels = render_factors(factors, image_size=64)
    without, without_labels = render_factors({**factors, factor: np.full_like(factors[factor], absent)}, 64)
    changed = (images != without).any(axis=(1, 2, 3))
    np.testing.assert_array_equal(changed, labels[:, _column(attribute)] == 1)
    assert (without_labels[:, _column(attribute)] == -1).all()
    # A local feature: most of each changed image stays as it was.
    assert (images[changed] == without[changed]).all(axis=-1).mean() > 0.6


def test_bald_heads_have_no_hair_on_top():
    factors = synthetic_factors(0, 200, seed=8)
    factors["hair_colour"] = np.zeros_like(factors["hair_colour"])  # black hair everywhere
    images, labels = render_factors(factors, image_size=64)
    # Inside the top of the head: skin when bald, (black) hair otherwise.
    crown = _probe(images, factors, np.zeros(200), -factors["face_height"] + 0.06)
    bald = labels[:, _column("Bald")] == 1
    assert bald.sum() > 5
    assert crown[bald].min() > crown[~bald].max()
    assert (factors["hair_style"][bald] == HAIR_STYLES.index("bald")).all()


@pytest.mark.parametrize("kwargs", [
    dict(start=-1, count=3), dict(start=0, count=-1), dict(start=0, count=2, image_size=15),
    dict(start=0, count=2, image_size=4096), dict(start=0, count=2, image_size=64.0),
    dict(start=0.5, count=2), dict(start=0, count=2, seed=1.5), dict(start=0, count=2, seed="a"),
    dict(start=0, count=2, blur=-0.1), dict(start=0, count=2, blur=float("nan")), dict(start=0, count=2, blur=100),
    dict(start=0, count=2, blur="soft"),
])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        render_faces(**kwargs)


def test_invalid_factor_table():
    factors = synthetic_factors(0, 4)
    with pytest.raises(ValueError, match="lacks"):
        render_factors({k: v for k, v in factors.items() if k != "smile"})
    with pytest.raises(ValueError, match="length"):
        render_factors({**factors, "smile": factors["smile"][:2]})
    with pytest.raises(ValueError):
        synthetic_factors(-1, 4)


def test_blur_softens_each_face_on_its_own():
    crisp, labels = render_faces(250, 12, image_size=32, seed=4)
    soft, soft_labels = render_faces(250, 12, image_size=32, seed=4, blur=0.6)
    np.testing.assert_array_equal(labels, soft_labels)
    np.testing.assert_array_equal(render_faces(250, 12, image_size=32, seed=4, blur=0)[0], crisp)
    # Deterministic and per index: the same faces whatever range they are rendered in.
    np.testing.assert_array_equal(render_faces(250, 12, image_size=32, seed=4, blur=0.6)[0], soft)
    np.testing.assert_array_equal(render_faces(255, 3, image_size=32, seed=4, blur=0.6)[0], soft[5:8])
    assert soft.dtype == np.uint8 and soft.shape == crisp.shape

    def roughness(images):  # mean squared difference of horizontal neighbours
        x = images.astype(float)
        return ((x[:, :, 1:] - x[:, :, :-1]) ** 2).mean(axis=(1, 2, 3))

    # Every face gets smoother, keeps its colours on average, and stays far from a blank frame.
    assert (roughness(soft) < 0.8 * roughness(crisp)).all()
    np.testing.assert_allclose(soft.mean(axis=(1, 2)), crisp.mean(axis=(1, 2)), atol=2.0)
    assert soft.reshape(12, -1).std(axis=1).min() > 20


def test_soften_is_a_normalised_gaussian():
    from aegen.data.synthetic import soften

    flat = np.full((2, 16, 16, 3), 77, np.uint8)
    np.testing.assert_array_equal(soften(flat, 1.3), flat)
    dot = np.zeros((1, 21, 21, 3), np.uint8)
    dot[0, 10, 10] = 255
    blurred = soften(dot, 1.0).astype(float)
    # A point spreads symmetrically, with most of its weight within a pixel of where it was.
    np.testing.assert_array_equal(blurred[0], blurred[0, ::-1])
    np.testing.assert_array_equal(blurred[0], blurred[0].transpose(1, 0, 2))
    assert blurred[0, 10, 10, 0] == blurred.max() and abs(blurred.sum() / 3 - 255) < 25


def test_blurred_data_spec_is_its_own_data_set(tmp_path):
    from aegen.data import load_dataset
    from aegen.data.synthetic import soften

    crisp = load_dataset("synthetic:n=20,seed=6", 32, cache_dir=tmp_path, progress=False)
    soft = load_dataset("synthetic:n=20,seed=6,blur=0.6", 32, cache_dir=tmp_path, progress=False)
    # A cache of its own (the crisp one keeps its old key), holding the softened drawing.
    assert soft.info["cache"] != crisp.info["cache"]
    np.testing.assert_array_equal(np.asarray(soft.images), soften(np.asarray(crisp.images), 0.6))
    np.testing.assert_array_equal(soft.annotations.attrs, crisp.annotations.attrs)
