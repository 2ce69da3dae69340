import zipfile

import numpy as np
import pytest
from PIL import Image

from aegen import AegenError
from aegen.data import load_dataset
from aegen.data.celeba import parse_attributes
from aegen.data.images import BadImage, decode_image
from conftest import ATTR_NAMES, jpeg_bytes, write_celeba_layout


def test_celeba_zip_reads_images_and_annotations(tiny_celeba):
    ds = load_dataset(f"celeba:{tiny_celeba}", image_size=32, progress=False)
    assert ds.images.shape == (12, 32, 32, 3) and ds.images.dtype == np.uint8
    assert list(ds.ids[:2]) == ["000001.jpg", "000002.jpg"]
    assert ds.annotations.attr_names == ATTR_NAMES
    assert ds.annotations.attrs.shape == (12, 3)
    assert set(np.unique(ds.annotations.attrs)) <= {-1, 1}
    assert list(ds.annotations.identity[:5]) == [100, 101, 102, 103, 100]
    # The row of 000003.jpg in the attribute file is the row the dataset carries.
    names, rows = parse_attributes(tiny_celeba.parent / "list_attr_celeba.txt")
    np.testing.assert_array_equal(ds.annotations.attrs[2], rows["000003.jpg"])


def test_celeba_folder_matches_zip(tmp_path):
    zipped = write_celeba_layout(tmp_path / "a", as_zip=True)
    folder = write_celeba_layout(tmp_path / "b", as_zip=False)
    a = load_dataset(f"celeba:{zipped}", 32, progress=False)
    b = load_dataset(f"celeba:{folder}", 32, progress=False)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.annotations.attrs, b.annotations.attrs)


def test_split_by_identity_keeps_people_apart(tmp_path):
    zipped = write_celeba_layout(tmp_path / "c", n=40, n_people=10)
    ds = load_dataset(f"celeba:{zipped}", 32, progress=False)
    train, heldout, policy = ds.split(0.2, seed=3)
    assert policy == "identity"
    assert len(train) + len(heldout) == 40 and len(heldout) > 0
    assert not set(ds.annotations.identity[train]) & set(ds.annotations.identity[heldout])
    again = ds.split(0.2, seed=3)
    np.testing.assert_array_equal(heldout, again[1])


def test_split_by_partition_then_random(tmp_path):
    zipped = write_celeba_layout(tmp_path / "p", n=10)
    (tmp_path / "p" / "identity_CelebA.txt").unlink()
    (tmp_path / "p" / "list_eval_partition.txt").write_text("".join(f"{i + 1:06d}.jpg {2 if i < 3 else 0}\n" for i in range(10)))
    ds = load_dataset(f"celeba:{zipped}", 32, progress=False)
    train, heldout, policy = ds.split(0.1)
    assert policy == "partition" and list(heldout) == [0, 1, 2]
    (tmp_path / "p" / "list_eval_partition.txt").unlink()
    ds = load_dataset(f"celeba:{zipped}", 32, progress=False)
    assert ds.split(0.3)[2] == "random" and len(ds.split(0.3)[1]) == 3


def _layout_with_test_partition(folder, n=40, n_people=10, n_test_people=4):
    """A tiny CelebA whose last people form the official test partition (value 2), as in CelebA."""
    zipped = write_celeba_layout(folder, n=n, n_people=n_people)
    people = [100 + i % n_people for i in range(n)]
    (folder / "list_eval_partition.txt").write_text("".join(
        f"{i + 1:06d}.jpg {2 if p >= 100 + n_people - n_test_people else 0}\n" for i, p in enumerate(people)))
    return zipped


def test_split_by_size_holds_out_whole_people(tmp_path):
    ds = load_dataset(f"celeba:{write_celeba_layout(tmp_path / 's', n=40, n_people=10)}", 32, progress=False)
    train, heldout, rule = ds.split(heldout_size=9, seed=1)
    identity = ds.annotations.identity
    assert rule == "identity" and len(heldout) >= 9 and len(train) + len(heldout) == 40
    assert not set(identity[train]) & set(identity[heldout])
    np.testing.assert_array_equal(heldout, ds.split(heldout_size=9, seed=1)[1])
    assert not np.array_equal(heldout, ds.split(heldout_size=9, seed=2)[1])
    with pytest.raises(AegenError, match="at most 36"):
        ds.split(heldout_size=37)  # 10 people of 4 images: one must stay to train on
    with pytest.raises(AegenError, match="integer in 1..39"):
        ds.split(heldout_size=40)
    with pytest.raises(AegenError, match="not both"):
        ds.split(0.2, heldout_size=5)


def test_split_by_size_uses_the_official_test_partition_when_it_is_large_enough(tmp_path):
    ds = load_dataset(f"celeba:{_layout_with_test_partition(tmp_path / 't')}", 32, progress=False)
    test = ds.annotations.partition == 2
    train, heldout, rule = ds.split(heldout_size=8, seed=0)
    assert rule == "official-test" and len(heldout) >= 8
    assert test[heldout].all() and not test[train].any()  # no image of the test partition is trained on
    assert not set(ds.annotations.identity[train]) & set(ds.annotations.identity[heldout])
    assert len(train) == int((~test).sum())
    train, heldout, rule = ds.split(heldout_size=int(test.sum()))  # the whole partition
    assert rule == "official-test" and np.array_equal(heldout, np.flatnonzero(test))
    # More than the partition holds: whole people from all the images instead, recorded as such.
    assert ds.split(heldout_size=int(test.sum()) + 1)[2] == "identity"


def test_split_by_size_at_random_without_people(tmp_path):
    zipped = write_celeba_layout(tmp_path / "r", n=20)
    (tmp_path / "r" / "identity_CelebA.txt").unlink()
    ds = load_dataset(f"celeba:{zipped}", 32, progress=False)
    train, heldout, rule = ds.split(heldout_size=7, seed=4)
    assert rule == "random" and len(heldout) == 7 and len(train) == 13 and not set(train) & set(heldout)


def test_corrupt_image_is_skipped_and_counted(tmp_path):
    zipped = write_celeba_layout(tmp_path / "x", n=8, corrupt=(2, 5))
    ds = load_dataset(f"celeba:{zipped}", 32, progress=False)
    assert len(ds) == 6 and ds.info["n_skipped"] == 2
    assert "000003.jpg" not in set(ds.ids)
    assert {s["id"] for s in ds.info["skipped"]} == {"000003.jpg", "000006.jpg"}
    assert ds.annotations.attrs.shape == (6, 3)


def test_cache_is_reused_and_rebuilt_when_incomplete(tiny_celeba, tmp_path):
    ds = load_dataset(f"celeba:{tiny_celeba}", 32, progress=False)
    cache = ds.info["cache"]
    again = load_dataset(f"celeba:{tiny_celeba}", 32, progress=False)
    assert again.info["cache"] == cache
    # A cache whose meta.json is missing (an interrupted build) is rebuilt, not trusted.
    import pathlib

    (pathlib.Path(cache) / "meta.json").unlink()
    rebuilt = load_dataset(f"celeba:{tiny_celeba}", 32, progress=False)
    np.testing.assert_array_equal(rebuilt.images, ds.images)


def test_folder_source_recursive_with_odd_modes(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "imgs"
    (root / "sub").mkdir(parents=True)
    Image.fromarray(rng.integers(0, 255, (50, 70, 3), dtype=np.uint8)).save(root / "a.png")
    Image.fromarray(rng.integers(0, 255, (40, 40), dtype=np.uint8), mode="L").save(root / "sub" / "gray.png")
    Image.fromarray(rng.integers(0, 255, (40, 40, 4), dtype=np.uint8), mode="RGBA").save(root / "sub" / "rgba.webp")
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).convert("CMYK").save(root / "cmyk.jpg")
    Image.fromarray(rng.integers(0, 65535, (40, 40), dtype=np.uint16)).save(root / "deep16.png")
    Image.fromarray(rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)).save(root / "tiny.png")
    (root / "broken.jpg").write_bytes(jpeg_bytes(rng)[:200])
    (root / "notes.txt").write_text("not an image")
    ds = load_dataset(f"folder:{root}", 32, progress=False)
    assert len(ds) == 5 and ds.info["n_skipped"] == 2
    assert ds.images.shape == (5, 32, 32, 3)
    assert ds.annotations.attrs is None


def test_folder_zip_and_limit(tmp_path):
    rng = np.random.default_rng(2)
    with zipfile.ZipFile(tmp_path / "faces.zip", "w") as zf:
        for i in range(6):
            zf.writestr(f"faces/{i}.jpg", jpeg_bytes(rng, (64, 80)))
    ds = load_dataset(f"folder:{tmp_path / 'faces.zip'}", 32, limit=4, progress=False)
    assert len(ds) == 4 and list(ds.ids) == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"]


@pytest.mark.parametrize("spec, message", [
    ("folder:/no/such/place", "no such file or folder"),
    ("celeba:", "needs a path"),
    ("pictures:/tmp", "unknown data spec"),
])
def test_bad_specs_are_one_line_errors(spec, message):
    with pytest.raises(AegenError, match=message):
        load_dataset(spec, 32, progress=False)


def test_empty_folder_and_all_bad(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(AegenError, match="no images"):
        load_dataset(f"folder:{tmp_path / 'empty'}", 32, progress=False)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.jpg").write_bytes(b"garbage")
    with pytest.raises(AegenError, match="no usable images"):
        load_dataset(f"folder:{tmp_path / 'bad'}", 32, progress=False)


def test_attribute_file_with_missing_or_extra_row(tmp_path):
    zipped = write_celeba_layout(tmp_path / "m", n=6)
    attr = tmp_path / "m" / "list_attr_celeba.txt"
    lines = attr.read_text().splitlines()
    attr.write_text("\n".join(lines[:-1]) + "\n")  # a row missing
    with pytest.raises(AegenError, match="declares 6 rows but the file has 5"):
        load_dataset(f"celeba:{zipped}", 32, progress=False)
    attr.write_text("\n".join(lines + ["000099.jpg  1 -1  1"]) + "\n")  # an extra row
    with pytest.raises(AegenError, match="declares 6 rows but the file has 7"):
        load_dataset(f"celeba:{zipped}", 32, progress=False)
    attr.write_text("\n".join(lines[:3] + ["000002.jpg 1 1"] + lines[4:]) + "\n")
    with pytest.raises(AegenError, match=r"list_attr_celeba.txt:4: expected 4 fields"):
        load_dataset(f"celeba:{zipped}", 32, progress=False)


def test_decode_image_crop_and_errors():
    rng = np.random.default_rng(0)
    out = decode_image(jpeg_bytes(rng), 64, crop=140)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    with pytest.raises(BadImage):
        decode_image(b"\x89PNG\r\n\x1a\n garbage", 64)


@pytest.mark.celeba
def test_real_celeba_first_images(shared_celeba):
    ds = load_dataset(f"celeba:{shared_celeba}", 64, limit=200, progress=False)
    assert len(ds) == 200 and ds.info["n_skipped"] == 0
    assert ds.annotations.attrs.shape == (200, 40) and "Smiling" in ds.annotations.attr_names
    assert ds.split()[2] == "identity"
    # Aligned CelebA faces: the centre of the crop is brighter-than-black skin, not background.
    assert ds.images[:, 24:40, 24:40].mean() > 60
