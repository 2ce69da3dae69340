"""Editing faces, the attribute classifier and the checked conditional sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aegen import AegenError
from aegen.attributes import conditional
from aegen.attributes.classifier import AttributeClassifier, AttributeCNN, load_or_train_classifier
from aegen.attributes.conditional import rate_conditional_sampling
from aegen.attributes.editing import edit_faces, edit_file_name, find_image, write_edit_strip
from test_attributes_fakes import ATTRS, IMAGE_SIZE, gaussian_factory, make_fake_run

# -- editing ----------------------------------------------------------------------------------


def test_find_image_by_id_or_stem(tmp_path):
    run = make_fake_run(tmp_path, n_train=50, n_heldout=20)
    assert find_image(run, "000001.jpg") == ("train", 0)
    assert find_image(run, "000052") == ("heldout", 1)
    with pytest.raises(AegenError, match="no image with id '999999.jpg'"):
        find_image(run, "999999.jpg")


def test_edit_strip_columns_and_file(tmp_path):
    run = make_fake_run(tmp_path)
    ids = ["000801.jpg", "000002.jpg"]
    result = edit_faces(run, ids, "Smiling", "-3:3:3", method="probe")
    images = result["images"]
    assert images.shape == (2, 5, IMAGE_SIZE, IMAGE_SIZE, 3) and images.dtype == np.uint8
    z = np.stack([run.zpoints("heldout")[0], run.zpoints("train")[1]])
    np.testing.assert_array_equal(images[:, 0], run.images("heldout")[[0]].tolist() + run.images("train")[[1]].tolist())
    np.testing.assert_array_equal(images[:, 1], run.decode(z))       # reconstruction
    np.testing.assert_array_equal(images[:, 3], run.decode(z))       # strength 0
    # The fake decoder paints the left half bright when z[0] > 0, i.e. towards "Smiling":
    # -3 std along the direction darkens it, +3 std brightens it, whatever the start.
    assert np.all(images[:, 2, 0, 0, 0] < 128) and np.all(images[:, 4, 0, 0, 0] > 128)

    path = write_edit_strip(run, ids, "Smiling", "-1,1", method="mean", unit="centres")
    assert path == run.path / "edits" / "000801+000002-Smiling.png" and path.stat().st_size > 5_000
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["columns"] == ["original", "reconstruction", "strength -1", "strength +1"]
    assert info["unit"] == "centres" and info["direction"]["method"] == "mean"
    assert info["step_latent_units"] == pytest.approx(abs(info["direction"]["centre_gap"]))
    assert info["sources"][0] == {"split": "heldout", "row": 0}


def test_edit_errors_and_names(tmp_path):
    run = make_fake_run(tmp_path, n_train=100, n_heldout=20)
    with pytest.raises(AegenError, match="unknown attribute"):
        edit_faces(run, ["000001.jpg"], "Wearing_Hat")
    with pytest.raises(AegenError, match="no image"):
        edit_faces(run, ["nope"], "Smiling")
    with pytest.raises(ValueError, match="unit"):
        edit_faces(run, ["000001.jpg"], "Smiling", unit="cm")
    assert edit_file_name([f"{i:06d}.jpg" for i in range(6)], "Male") == "000000+000001+000002+3more-Male.png"


# -- the classifier ------------------------------------------------------------------------------


def tiny_images(n=40, size=16, seed=0):
    """Images whose left half is bright exactly for the positive class of the first attribute."""
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random((n, 2)) < 0.5, 1, -1).astype(np.int8)
    images = rng.integers(0, 60, size=(n, size, size, 3), dtype=np.uint8)
    images[labels[:, 0] > 0, :, : size // 2] += 150
    return images, labels


def test_classifier_shapes_save_load_and_seed(tmp_path):
    images, labels = tiny_images()
    clf = AttributeClassifier(epochs=1, batch_size=16, random_state=3, progress=False).fit(images, labels, ["A", "B"])
    assert clf.input_size_ == 16  # the image size, which is a multiple of 16 and at most 64
    proba = clf.predict_proba(images)
    assert proba.shape == (40, 2) and proba.dtype == np.float32 and np.all((proba >= 0) & (proba <= 1))
    assert set(np.unique(clf.predict(images))) <= {-1, 1}
    scores = clf.score(images, labels)
    assert set(scores) == {"A", "B"} and 0 <= scores["A"]["balanced_accuracy"] <= 1

    clf.save(tmp_path / "clf", extra={"note": "x"})
    assert (tmp_path / "clf" / "model.safetensors").is_file()
    loaded = AttributeClassifier.load(tmp_path / "clf")
    np.testing.assert_allclose(loaded.predict_proba(images), proba, atol=1e-6)
    assert loaded.config_["note"] == "x" and loaded.attr_names_ == ["A", "B"]

    twin = AttributeClassifier(epochs=1, batch_size=16, random_state=3, progress=False).fit(images, labels, ["A", "B"])
    np.testing.assert_allclose(twin.predict_proba(images), proba, atol=1e-6)

    (tmp_path / "clf" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(AegenError, match="cannot load the attribute classifier"):
        AttributeClassifier.load(tmp_path / "clf")


def test_classifier_learns_a_visible_attribute():
    images, labels = tiny_images(n=256, seed=1)
    clf = AttributeClassifier(epochs=4, batch_size=32, lr=1e-2, progress=False).fit(images[:192], labels[:192], ["A", "B"])
    scores = clf.score(images[192:], labels[192:])
    assert scores["A"]["accuracy"] > 0.9     # visible in the pixels
    assert scores["B"]["balanced_accuracy"] < 0.75  # random labels: nothing to learn


def test_classifier_rejects_bad_input():
    with pytest.raises(ValueError, match="multiple of 16"):
        AttributeCNN(3, input_size=40)
    tiny, tiny_labels = np.zeros((4, 16, 16, 3), np.uint8), np.ones((4, 2))
    with pytest.raises(ValueError, match="epochs"):
        AttributeClassifier(epochs=0).fit(tiny, tiny_labels, ["A", "B"])
    with pytest.raises(ValueError, match="labels must be"):
        AttributeClassifier().fit(np.zeros((4, 16, 16, 3), np.uint8), np.ones((4, 3)), ["A", "B"])
    with pytest.raises(ValueError, match="not fitted"):
        AttributeClassifier().predict(np.zeros((1, 16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="num_threads"):
        AttributeClassifier(num_threads=0).fit(tiny, tiny_labels, ["A", "B"])


def test_thread_limit_is_restored():
    import torch

    from aegen.attributes.classifier import torch_threads

    before = torch.get_num_threads()
    with pytest.raises(RuntimeError):
        with torch_threads(1):
            assert torch.get_num_threads() == 1
            raise RuntimeError("inside")
    assert torch.get_num_threads() == before


def test_classifier_is_cached_in_the_run(tmp_path):
    run = make_fake_run(tmp_path, n_train=64, n_heldout=32)
    clf = load_or_train_classifier(run, epochs=1, batch_size=32, progress=False)
    folder = run.path / "attributes" / "classifier"
    config = json.loads((folder / "classifier.json").read_text())
    assert config["attr_names"] == ATTRS and config["n_train"] == 64
    assert set(config["heldout_scores"]) == set(ATTRS)
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    again = load_or_train_classifier(run, epochs=1, batch_size=32, progress=False)
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    np.testing.assert_allclose(again.predict_proba(run.images("train")), clf.predict_proba(run.images("train")), atol=1e-6)
    load_or_train_classifier(run, epochs=2, batch_size=32, progress=False)  # other parameters: trained anew
    assert json.loads((folder / "classifier.json").read_text())["params"]["epochs"] == 2


# -- conditional sampling, rated ------------------------------------------------------------------


class PixelJudge:
    """A perfect 'classifier' for the fake run: Smiling is the brightness of the left half."""

    attr_names_ = list(ATTRS)
    n_train_, train_seconds_ = 0, 0.0

    def get_params(self):
        return {"rule": "pixel"}

    def predict(self, images):
        out = -np.ones((len(images), len(ATTRS)), dtype=np.int8)
        out[:, 0] = np.where(images[:, 0, 0, 0] > 128, 1, -1)
        return out


def test_conditional_rates_use_the_requested_class(tmp_path, monkeypatch):
    run = make_fake_run(tmp_path)
    monkeypatch.setattr(conditional, "load_or_train_classifier", lambda *a, **k: PixelJudge())
    result = rate_conditional_sampling(run, attrs="Smiling,Male", n=300, sampler_factory=gaussian_factory,
                                       extra_where=[{"Smiling": 1, "Male": -1}], progress=False)
    row = result["attributes"]["Smiling"]
    # Smiling shifts z[0] by 3 std: its positive class mostly has z[0] > 0, its negative class z[0] < 0.
    assert row["positive_share_when_requested"] > 0.85 and row["negative_share_when_requested"] > 0.85
    assert 0.3 < row["unconditional_positive_rate"] < 0.7
    assert row["classifier_accuracy"] > 0.85 and row["classifier_balanced_accuracy_reconstructed"] > 0.85
    names = [c["name"] for c in result["conditions"]]
    assert names == ["unconditional", "Smiling=1", "Smiling=-1", "Male=1", "Male=-1", "Smiling=1,Male=-1"]
    joint = result["conditions"][-1]
    assert joint["n_fit_zpoints"] == int(np.sum((run.zpoint_meta()["attrs"][:, 0] > 0) & (run.zpoint_meta()["attrs"][:, 1] < 0)))
    assert joint["requested_share"]["Smiling"] > 0.85
    out = run.path / "attributes"
    assert json.loads((out / "conditional.json").read_text())["n_per_condition"] == 300
    assert "Smiling=1,Male=-1" in (out / "conditional.md").read_text()
    assert (out / "conditional.png").stat().st_size > 10_000
    assert (out / "conditional" / "Smiling=1+Male=-1.png").is_file()


def test_conditional_errors(tmp_path, monkeypatch):
    run = make_fake_run(tmp_path, n_train=200, n_heldout=40)
    monkeypatch.setattr(conditional, "load_or_train_classifier", lambda *a, **k: PixelJudge())
    with pytest.raises(AegenError, match="too few"):
        rate_conditional_sampling(run, attrs="Smiling", n=10, sampler_factory=gaussian_factory, progress=False,
                                  extra_where=[{"Bald": 1, "Eyeglasses": 1, "Split": 1, "Smiling": 1, "Male": 1}],
                                  figures=False)

    def failing_factory(method, params):
        raise ValueError(f"unknown sampler {method!r}")

    with pytest.raises(ValueError, match="unknown sampler"):
        rate_conditional_sampling(run, attrs="Smiling", n=10, sampler_factory=failing_factory, progress=False)
    with pytest.raises(ValueError, match="n must be"):
        rate_conditional_sampling(run, n=0, sampler_factory=gaussian_factory, progress=False)


def test_conditional_rating_fits_through_aegen_sample_path(tiny_run, monkeypatch):
    """Without a factory the samplers come from aegen.sample.fitted_sampler: fit_on applies and the cache is shared."""
    from aegen.cli import main
    from aegen.run import Run
    from aegen.sample import fitted_sampler

    run = Run.open(tiny_run)
    names = list(run.zpoint_meta("train")["attr_names"])

    class AllNegative:  # a stand-in judge: the rates are not the point here
        attr_names_, n_train_, train_seconds_ = names, 0, 0.0

        def get_params(self):
            return {}

        def predict(self, images):
            return -np.ones((len(images), len(names)), dtype=np.int8)

    monkeypatch.setattr(conditional, "load_or_train_classifier", lambda *a, **k: AllNegative())
    assert main(["encode", str(tiny_run), "--mirrored"]) == 0
    params = {"fit_on": "train+mirrored"}
    result = rate_conditional_sampling(run, attrs=names[0], n=8, params=params, progress=False, figures=False)
    labels = run.zpoint_meta("train")["attrs"][:, 0]
    fitted = {c["name"]: c["n_fit_zpoints"] for c in result["conditions"]}
    assert fitted == {"unconditional": 2 * len(labels), f"{names[0]}=1": 2 * int(np.sum(labels > 0)),
                      f"{names[0]}=-1": 2 * int(np.sum(labels < 0))}
    # aegen sample --where finds the sampler the rating fitted, in the same cache.
    _, info = fitted_sampler(run, "gaussian", params, where={names[0]: 1}, progress=False)
    assert info["cache_hit"] and info["n_zpoints"] == fitted[f"{names[0]}=1"]
