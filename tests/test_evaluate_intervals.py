"""Intervals of the evaluation: Gram-matrix FID/KID, bootstrap, paired differences, FID∞, subsets."""

from __future__ import annotations

import numpy as np
import pytest

from aegen import AegenError
from aegen.evaluate.metrics.intervals import (
    GramPair,
    bootstrap_draws,
    fid_infinity,
    fid_infinity_sizes,
    mean_interval,
    paired_differences,
    wilson_interval,
)
from aegen.evaluate.metrics.distances import fid_from_features, kid


@pytest.mark.parametrize("n, m, d", [(40, 60, 8), (30, 30, 50)])
def test_gram_fid_and_kid_equal_the_feature_formulas(n, m, d):
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(n, d)), rng.normal(0.3, 1.2, size=(m, d))
    pair = GramPair(real, fake)
    assert pair.fid() == pytest.approx(fid_from_features(real, fake, method="eigh"), rel=1e-7)
    if n == m:
        assert pair.kid() == pytest.approx(kid(real, fake, n_subsets=1, subset_size=n)[0], rel=1e-8)
    # Subsets with repeated rows are the FID of the repeated rows.
    ri, gi = np.array([0, 0, 1, 2, 5]), np.array([3, 3, 3, 4, 7, 9])
    assert pair.fid(ri, gi) == pytest.approx(fid_from_features(real[ri], fake[gi], method="eigh"), rel=1e-7)


def paired_fid_differences(reference, rows: dict[str, np.ndarray], replicates: int = 200, seed: int = 0):
    """What :func:`aegen.evaluate.protocol.summary.finish_rows` does: shared reference resamples, paired rows."""
    ref_draws = bootstrap_draws(len(reference), len(reference), replicates, seed)
    estimates, values = {}, {}
    for k, (name, fake) in enumerate(rows.items()):
        pair = GramPair(reference, fake)
        gen_draws = bootstrap_draws(len(fake), len(fake), replicates, seed + 1 + k)
        estimates[name] = pair.fid()
        values[name] = np.array([pair.fid(ref_draws[b], gen_draws[b]) for b in range(replicates)])
    return {(d["a"], d["b"]): d for d in paired_differences(list(rows), estimates, values)}


def test_paired_interval_excludes_zero_for_a_shift_and_covers_zero_for_two_draws():
    rng = np.random.default_rng(1)
    d, n = 6, 200
    reference = rng.normal(size=(n, d))
    rows = {"draw_a": rng.normal(size=(n, d)), "draw_b": rng.normal(size=(n, d)),
            "shifted": rng.normal(0.5, 1.0, size=(n, d))}
    pairs = paired_fid_differences(reference, rows, replicates=100)
    same = pairs[("draw_a", "draw_b")]
    assert same["low"] < 0 < same["high"] and not same["significant"]
    for name in ("draw_a", "draw_b"):
        shifted = pairs[(name, "shifted")]
        assert shifted["high"] < 0 and shifted["significant"], shifted


@pytest.mark.slow
def test_bootstrap_interval_of_equal_draws_covers_zero_about_95_percent_of_the_time():
    rng = np.random.default_rng(2)
    covered = 0
    for trial in range(30):
        reference = rng.normal(size=(60, 4))
        rows = {"a": rng.normal(size=(60, 4)), "b": rng.normal(size=(60, 4))}
        covered += not paired_fid_differences(reference, rows, replicates=40, seed=trial)[("a", "b")]["significant"]
    assert covered >= 25  # 95% nominal; 25 of 30 is below the 1% binomial lower tail


def test_repeat_intervals_and_wilson_intervals():
    interval = mean_interval([10.0, 12.0, 11.0])
    assert interval.estimate == 11.0 and interval.low == pytest.approx(11 - 4.303 / np.sqrt(3), rel=1e-3)
    assert mean_interval([5.0]).low is None
    faces = wilson_interval(95, 100)
    assert faces.estimate == 0.95 and faces.low == pytest.approx(0.888, abs=1e-3) and faces.high == pytest.approx(0.978, abs=1e-3)
    assert wilson_interval(0, 50).low == pytest.approx(0.0, abs=1e-12)
    # Without bootstrap replicates, differences fall back to the repeats (Welch).
    pairs = paired_differences(["a", "b"], {"a": 10.0, "b": 20.0}, {}, {"a": np.array([9.5, 10.5, 10.0]),
                                                                      "b": np.array([19.0, 21.0, 20.0])})
    assert pairs[0]["significant"] and "Welch" in pairs[0]["interval"]


def test_fid_infinity_recovers_the_intercept():
    sizes = fid_infinity_sizes(2000)
    assert sizes[0] == 500 and sizes[-1] == 2000 and len(sizes) == 5
    exact = fid_infinity(sizes, [7.0 + 3000.0 / n for n in sizes])
    assert exact["fid_inf"] == pytest.approx(7.0) and exact["slope"] == pytest.approx(3000.0)
    noisy = np.random.default_rng(3).normal(0, 0.05, size=10)
    fit = fid_infinity(sizes * 2, [7.0 + 3000.0 / n + e for n, e in zip(sizes * 2, noisy)])
    assert fit["fid_inf_low"] < 7.0 < fit["fid_inf_high"]
    with pytest.raises(ValueError, match="two or more"):
        fid_infinity([100, 100], [1.0, 2.0])


def test_fid_infinity_removes_the_small_sample_bias_of_gaussian_features():
    rng = np.random.default_rng(4)
    d = 16
    real, fake = rng.normal(size=(2000, d)), rng.normal(0.25, 1.0, size=(2000, d))  # FID∞ at n up to 2000
    truth = d * 0.25 ** 2  # equal covariances: the Fréchet distance is the means' squared distance
    pair = GramPair(real, fake)
    points_n, points_fid = [], []
    for size in fid_infinity_sizes(2000, n_min=200):
        for _ in range(2):
            ri, gi = rng.choice(2000, size, replace=False), rng.choice(2000, size, replace=False)
            points_n.append(size)
            points_fid.append(pair.fid(ri, gi))
    fit = fid_infinity(points_n, points_fid)
    smallest = np.mean([v for n, v in zip(points_n, points_fid) if n == min(points_n)])
    assert abs(fit["fid_inf"] - truth) < abs(smallest - truth) / 3
    assert fit["fid_inf_low"] - 0.02 < truth < fit["fid_inf_high"] + 0.02


def subsets_of_split(n: int, n_heldout: int, reconstruction: bool = True):
    from aegen.evaluate.protocol.seeds import evaluation_seeds
    from aegen.evaluate.protocol.subsets import choose_subsets

    return choose_subsets(n, 10_000, n_heldout, evaluation_seeds(3, 1, 1), reconstruction)


@pytest.mark.parametrize("n", [2, 7, 100, 250, 500])
def test_reconstruction_and_reference_subsets_are_disjoint_at_every_n(n):
    subsets = subsets_of_split(n, 1000)
    reference, reconstruction = subsets.heldout, subsets.reconstruction
    assert len(reference) == len(reconstruction) == n
    assert not set(reference) & set(reconstruction)


def test_an_n_the_split_cannot_serve_disjointly_is_refused():
    with pytest.raises(AegenError, match="N = 501 needs 1002 held-out images"):
        subsets_of_split(501, 1000)
    subsets = subsets_of_split(501, 1000, reconstruction=False)
    assert len(subsets.heldout) == 501 and len(subsets.reconstruction) == 0


# -- fit variance and paired FID∞ (issue 21) ---------------------------------------------
def test_cluster_bootstrap_holds_the_variance_between_fits():
    from aegen.evaluate.metrics.intervals import bootstrap_draws, cluster_bootstrap_draws

    # Three "fits" whose images differ by their fit's offset: a one-stage bootstrap of the pooled
    # images sees only the spread within fits; resampling fits first sees the offsets too.
    offsets = np.array([0.0, 1.0, 2.0])
    groups = np.repeat(np.arange(3), 200)
    values = offsets[groups] + np.random.default_rng(0).normal(0.0, 0.1, groups.size)
    one_stage = values[bootstrap_draws(values.size, 200, 400, seed=1)].mean(axis=1).std()
    two_stage = values[cluster_bootstrap_draws(groups, 200, 400, seed=1)].mean(axis=1).std()
    assert two_stage > 5 * one_stage and two_stage == pytest.approx(np.sqrt(2 / 3 / 3), rel=0.2)
    # One fit: exactly the one-stage draws, so evaluations with one fit keep their numbers.
    assert np.array_equal(cluster_bootstrap_draws(np.zeros(50, dtype=int), 20, 5, seed=2),
                          bootstrap_draws(50, 20, 5, seed=2))


def test_fid_infinity_is_paired_across_rows():
    from aegen.evaluate.metrics.intervals import GramPair, bootstrap_draws, paired_differences
    from aegen.evaluate.protocol.summary import _fid_inf

    rng = np.random.default_rng(3)
    reference = rng.normal(size=(60, 8))
    generated = rng.normal(size=(120, 8))
    pools = {"a": generated, "b": generated + 0.05}  # row b: row a's images, shifted a little
    root = 11  # the seed of the subsample positions
    ref_draws = bootstrap_draws(60, 60, 20, seed=4)
    gen_draws = bootstrap_draws(120, 60, 20, seed=5)
    fits = {name: _fid_inf(GramPair(reference, pool), root, ref_draws, gen_draws, None) for name, pool in pools.items()}
    same = _fid_inf(GramPair(reference, pools["a"]), root, ref_draws, gen_draws, None)
    # The same sets give the same subsamples, point estimate and refits: a row is paired with itself exactly.
    assert same[0]["fid_inf"] == fits["a"][0]["fid_inf"] and np.array_equal(same[1], fits["a"][1])
    row, refits = fits["b"]
    assert row["fid_inf_low"] < row["fid_inf"] < row["fid_inf_high"] and "refitted" in row["fid_inf_interval"]
    (diff,) = paired_differences(["b", "a"], {k: v[0]["fid_inf"] for k, v in fits.items()},
                                 {k: v[1] for k, v in fits.items()})
    assert diff["difference"] == pytest.approx(fits["b"][0]["fid_inf"] - fits["a"][0]["fid_inf"])
    # Shared resamples and subsample positions move both rows' refits together: their difference
    # varies far less than either (unpaired, independent subsamples would add the variances).
    a, b = fits["a"][1], fits["b"][1]
    assert np.std(b - a) < 0.3 * min(np.std(a), np.std(b))
