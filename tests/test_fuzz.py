"""Fuzzing the loaders of user files with hypothesis (a bounded number of examples).

Images: random bytes, and valid images of every format with bytes flipped or cut off, must
decode to an (S, S, 3) uint8 array or raise BadImage, nothing else. Images of every PIL
mode and of any size decode or are refused as too small. CelebA annotation files: random
text and damaged valid files must parse into a consistent result or raise AegenError.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from aegen import AegenError
from aegen.data.celeba import parse_attributes, parse_id_table
from aegen.data.images import MIN_SIDE, BadImage, decode_image

# PIL warns about the damage it reads past (corrupt EXIF, tags beyond the file): expected here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SIZE = 32
FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _encoded(fmt: str, mode: str = "RGB", size=(40, 36)) -> bytes:
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).convert(mode)
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


# Valid files of each format the loaders accept, plus TIFF and GIF (PIL reads files by their
# content, whatever their names say).
SEEDS = {fmt: _encoded(fmt) for fmt in ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")}


def _check_decoded(data: bytes) -> None:
    try:
        out = decode_image(data, SIZE)
    except BadImage as exc:
        assert str(exc)  # the reason is what the skip list records
        return
    assert out.shape == (SIZE, SIZE, 3) and out.dtype == np.uint8


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_decode_or_raise_bad_image(data):
    _check_decoded(data)


@FUZZ
@given(st.sampled_from(sorted(SEEDS)), st.data())
def test_damaged_images_decode_or_raise_bad_image(fmt, data):
    blob = bytearray(SEEDS[fmt])
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(blob) - 1), st.integers(0, 255)), max_size=8))
    for position, value in flips:
        blob[position] = value
    cut = data.draw(st.integers(0, len(blob)))
    _check_decoded(bytes(blob[:cut]))


# Every mode TIFF can store: PIL reads such a file whatever its name says.
MODES = ["1", "L", "P", "LA", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "I", "I;16", "I;16B", "F"]


@FUZZ
@given(st.sampled_from(MODES), st.integers(1, 80), st.integers(1, 80), st.booleans())
def test_every_mode_and_size_decodes_or_is_too_small(mode, width, height, constant):
    rng = np.random.default_rng(width * 100 + height)
    if constant:  # a flat image: the 16-bit rescaling must not divide by a zero range
        image = Image.new(mode, (width, height))
    elif mode.startswith("I;16"):
        image = Image.fromarray(rng.integers(0, 65535, (height, width), dtype=np.uint16)).convert(mode)
    else:
        image = Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).convert(mode)
    buf = io.BytesIO()
    image.save(buf, format="TIFF")
    if min(width, height) < MIN_SIDE:
        with pytest.raises(BadImage, match="too small"):
            decode_image(buf.getvalue(), SIZE)
    else:
        out = decode_image(buf.getvalue(), SIZE)
        assert out.shape == (SIZE, SIZE, 3) and out.dtype == np.uint8


# -- CelebA annotation files -------------------------------------------------------------------
@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "annotations.txt"


def _check_attributes(path) -> None:
    try:
        names, rows = parse_attributes(path)
    except AegenError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    declared = int(path.read_text().split()[0])
    assert len(rows) == declared and all(isinstance(n, str) and n for n in names)
    for image_id, values in rows.items():
        assert values.dtype == np.int8 and values.shape == (len(names),)
        assert set(np.unique(values)) <= {-1, 1}


ATTR_TEXT = st.text(alphabet=st.sampled_from(list("0123456789 -+\n\tabcjpg._\r\x00é")), max_size=400)


@FUZZ
@given(st.one_of(ATTR_TEXT, st.binary(max_size=300).map(lambda b: b.decode("latin-1"))))
def test_attribute_parser_on_random_text(text_file, text):
    text_file.write_bytes(text.encode("utf-8", "surrogatepass"))
    _check_attributes(text_file)


@FUZZ
@given(st.binary(max_size=300))
def test_attribute_parser_on_random_bytes(text_file, data):
    text_file.write_bytes(data)
    _check_attributes(text_file)


@FUZZ
@given(st.integers(0, 6), st.lists(st.sampled_from(["Smiling", "Male", "Bald"]), min_size=1, max_size=3, unique=True),
       st.data())
def test_attribute_parser_on_damaged_files(text_file, n_rows, names, data):
    rng = np.random.default_rng(n_rows)
    lines = [str(n_rows), " ".join(names)] + [
        f"{i + 1:06d}.jpg " + " ".join(str(v) for v in rng.choice([-1, 1], len(names))) for i in range(n_rows)]
    # Damage: delete, duplicate or rewrite lines, the way a bad download or an edit would.
    for _ in range(data.draw(st.integers(0, 3))):
        k = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["delete", "duplicate", "rewrite"]))
        if action == "delete":
            del lines[k]
        elif action == "duplicate":
            lines.insert(k, lines[k])
        else:
            lines[k] = data.draw(ATTR_TEXT)
        if not lines:
            break
    text_file.write_text("\n".join(lines) + "\n")
    _check_attributes(text_file)


@FUZZ
@given(st.one_of(ATTR_TEXT, st.binary(max_size=300).map(lambda b: b.decode("latin-1"))))
def test_id_table_parser_on_random_text(text_file, text):
    text_file.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        table = parse_id_table(text_file)
    except AegenError as exc:
        assert str(text_file) in str(exc) and "\n" not in str(exc)
        return
    pairs = [line.split() for line in text_file.read_text().splitlines() if line.split()]
    assert all(len(p) == 2 for p in pairs)
    assert table == {key: int(value) for key, value in pairs}
