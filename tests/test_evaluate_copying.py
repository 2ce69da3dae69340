"""The copying tests at the sizes of the CelebA run: copies of any training item are flagged,
10% of copies too, and a generator that never saw either side is not."""

from __future__ import annotations

import numpy as np
import pytest

from aegen.evaluate.metrics.latent_check import LatentCopyGuard
from aegen.evaluate.metrics.memorisation import CopyingTest, NearestTrainingImage, binomial_excess_z

# The CelebA run: 14,999 training images; 5,001 held out, of which 2,000 are the probe (the
# reconstruction row's originals) and 3,001 the held-out side; 2,000 generated images.
N_TRAIN, N_HELDOUT_SIDE, N_PROBE, N_GENERATED = 14_999, 3_001, 2_000, 2_000


def faces(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 4, 4, 3) uint8 images from a smooth 6-factor model: a stand-in for faces, cheap to search."""
    factors = rng.normal(size=(n, 6))
    mixing = np.random.default_rng(99).normal(size=(6, 48)) * 18.0
    pixels = 128.0 + factors @ mixing + rng.normal(0.0, 6.0, size=(n, 48))
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8).reshape(n, 4, 4, 3)


@pytest.fixture(scope="module")
def image_test():
    rng = np.random.default_rng(0)
    train, heldout, probe = faces(rng, N_TRAIN), faces(rng, N_HELDOUT_SIDE), faces(rng, N_PROBE)
    test = CopyingTest().fit(NearestTrainingImage(size=4, progress=False).fit(train),
                             NearestTrainingImage(size=4, progress=False).fit(heldout), probe)
    return test, train


def test_image_copies_of_the_whole_training_pool_are_flagged(image_test):
    test, train = image_test
    assert test.describe()["p0"] == pytest.approx(N_TRAIN / (N_TRAIN + N_HELDOUT_SIDE))
    # Every generated image a copy of a training image anywhere in the pool.
    chosen = np.random.default_rng(1).choice(N_TRAIN, N_GENERATED, replace=False)
    copies = test.test(train[chosen])
    assert copies["copy_flagged"] and copies["copy_excess"] > 0.95 and copies["copy_z"] < -10
    assert copies["copy_items_total"] == N_GENERATED
    assert {item["train"] for item in copies["copy_items"]} <= set(chosen.tolist())
    assert all(item["distance"] == 0.0 for item in copies["copy_items"])


def test_ten_percent_of_copies_are_flagged_by_the_near_items(image_test):
    test, train = image_test
    rng = np.random.default_rng(2)
    n_copies = N_GENERATED // 10
    chosen = rng.choice(N_TRAIN, n_copies, replace=False)
    mixed = np.concatenate([train[chosen], faces(rng, N_GENERATED - n_copies)])
    result = test.test(mixed)
    assert result["copy_excess"] < 0.3  # the overall share alone would not flag it
    assert result["copy_flagged"] and result["copy_near_excess"] > 0.8 and result["copy_near_z"] < -5
    listed = {item["item"] for item in result["copy_items"]}
    assert listed <= set(range(n_copies)) and result["copy_items_total"] >= 0.95 * n_copies


def test_an_independent_generator_is_not_flagged(image_test):
    test, _ = image_test
    fresh = test.test(faces(np.random.default_rng(3), N_GENERATED))
    assert not fresh["copy_flagged"]
    assert abs(fresh["copy_z"]) < 3 and abs(fresh["copy_excess"]) < 0.1
    assert fresh["copy_near_z"] > -3 and fresh["copy_near_trials"] < 0.05 * N_GENERATED


def test_the_latent_guard_is_unbiased_when_its_metric_is_fitted_outside_both_sides():
    rng = np.random.default_rng(4)
    d = 128
    scale = np.linspace(0.3, 3.0, d)
    # d / N_train as large as CelebA's 256 / 14,999 times 5, so that the old guard's bias stands out of the noise.
    train, heldout, metric = (rng.normal(size=(n, d)) * scale for n in (1500, 500, 1000))
    fresh = rng.normal(size=(4000, d)) * scale
    guard = LatentCopyGuard().fit(metric, train, heldout)
    result = guard.test(fresh)
    assert result["latent_copy_applicable"] and not result["latent_copy_flagged"]
    assert abs(result["latent_copy_excess"]) < 0.1
    # The metric fitted on the training side itself pulls fresh vectors towards it (the old guard).
    biased = LatentCopyGuard().fit(train, train, heldout).test(fresh)
    assert biased["latent_copy_excess"] > 0.15 and biased["latent_copy_excess"] - result["latent_copy_excess"] > 0.1
    copies = guard.test(train[rng.choice(1500, 300, replace=False)])
    assert copies["latent_copy_flagged"] and copies["latent_copy_excess"] > 0.9
    tenth = guard.test(np.concatenate([train[:100], fresh[:900]]))
    assert tenth["latent_copy_flagged"] and tenth["latent_copy_items_total"] >= 95


def test_binomial_z_is_exact_for_few_trials():
    assert binomial_excess_z(0, 0, 0.8) == 0.0
    assert binomial_excess_z(10, 10, 0.5) == pytest.approx(-3.30, abs=0.01)  # mid-p: 2^-11
    assert binomial_excess_z(0, 10, 0.5) == pytest.approx(3.30, abs=0.01)
    assert binomial_excess_z(10, 10, 0.833) > -1.5  # ten near items alone cannot flag a copier at CelebA's p0
