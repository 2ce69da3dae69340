"""The attribute analysis: labels, separation statistics, probe, directions, silhouettes, summary."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from aegen import AegenError
from aegen.attributes.analysis import analyze_run, evaluation_split, verdict
from aegen.attributes.clusters import LatentViews, balanced_subsample, silhouette
from aegen.attributes.directions import AttributeDirection, LinearProbe, parse_strengths
from aegen.attributes.labels import resolve_attributes
from aegen.conditions import parse_where, where_mask
from aegen.attributes.separation import class_separation, mahalanobis_between_centres
from test_attributes_fakes import ATTRS, make_fake_run


def planted(n=3000, d=12, shift=2.0, rate=0.5, cov=None, seed=0):
    """Two normal classes whose centres differ by ``shift`` along axis 0; shared covariance."""
    rng = np.random.default_rng(seed)
    cov = np.eye(d) if cov is None else cov
    Z = rng.multivariate_normal(np.zeros(d), cov, size=n)
    y = np.where(rng.random(n) < rate, 1, -1)
    Z[y > 0, 0] += shift
    return Z, y


# -- labels ---------------------------------------------------------------------------

def test_resolve_attributes_defaults_order_and_errors():
    names = ["Bald", "Smiling", "Male", "Young"]
    assert resolve_attributes(None, names) == ["Smiling", "Male"]
    assert resolve_attributes(None, ["a", "b", "c", "d", "e", "f"]) == ["a", "b", "c", "d", "e"]
    assert resolve_attributes("Young, Bald,Young", names) == ["Young", "Bald"]
    with pytest.raises(AegenError, match="unknown attribute 'Hat'; valid names: Bald, Smiling"):
        resolve_attributes("Smiling,Hat", names)


def test_parse_where_and_mask():
    names = ["Smiling", "Male"]
    where = parse_where("Smiling=1, Male=-1", names)
    assert where == {"Smiling": 1, "Male": -1}
    attrs = np.array([[1, -1], [1, 1], [-1, -1]])
    np.testing.assert_array_equal(where_mask(attrs, names, where), [True, False, False])
    assert parse_where("Male=0", names) == {"Male": -1}
    for bad in ("Smiling=2", "Smiling", "Hat=1"):
        with pytest.raises(AegenError):
            parse_where(bad, names)


# -- separation statistics ---------------------------------------------------------------

def test_separation_recovers_planted_distance():
    Z, y = planted(shift=2.0)
    sep = class_separation(Z, y)
    assert sep.centre_distance == pytest.approx(2.0, abs=0.15)
    assert sep.mahalanobis_distance_debiased == pytest.approx(2.0, abs=0.15)
    assert sep.cohen_d_mean_direction == pytest.approx(2.0, abs=0.15)
    assert sep.gaussian_balanced_accuracy == pytest.approx(stats.norm.cdf(1.0), abs=0.03)
    # The spread: sqrt(trace / d) of a cloud with unit variances plus a between-class term on one axis.
    assert sep.rms_spread == pytest.approx(np.sqrt((12 + 1.0) / 12), abs=0.05)
    assert sep.n_positive + sep.n_negative == len(y)


def test_debiased_mahalanobis_removes_the_noise_floor():
    Z, y = planted(n=400, d=40, shift=0.0, seed=3)
    plugin, debiased = mahalanobis_between_centres(Z, y)
    assert plugin > 0.4          # sampling noise in 40 dimensions looks like a separation
    assert debiased < 0.5 * plugin


def test_covariance_difference_against_its_noise_level():
    rng = np.random.default_rng(1)
    Z, y = planted(shift=0.0, seed=1)
    same = class_separation(Z, y)
    assert same.covariance_difference < 2 * same.covariance_difference_random_split
    Z[y > 0] *= 2.0  # the positive class is twice as wide
    wider = class_separation(Z, y, random_state=rng)
    assert wider.covariance_difference > 5 * wider.covariance_difference_random_split


def test_separation_needs_both_classes():
    Z, _ = planted(n=10)
    with pytest.raises(ValueError, match="at least 2"):
        class_separation(Z, np.array([1] + [-1] * 9))


# -- probe and directions -----------------------------------------------------------------

def test_probe_normal_is_the_discriminant_not_the_mean_difference():
    # Correlated cloud: the best separating direction is Sigma^-1 dmu, not dmu.
    cov = np.eye(4)
    cov[0, 1] = cov[1, 0] = 0.8
    Z, y = planted(n=6000, d=4, shift=1.5, cov=cov, seed=2)
    probe = LinearProbe().fit(Z[:4000], y[:4000])
    expected = np.linalg.solve(cov, [1.5, 0, 0, 0])
    expected /= np.linalg.norm(expected)
    assert abs(probe.normal_ @ expected) > 0.98
    mean_dir = AttributeDirection("mean").fit(Z[:4000], y[:4000])
    assert abs(mean_dir.direction_ @ expected) < 0.9
    held = probe.score(Z[4000:], y[4000:])
    assert held["balanced_accuracy"] > mean_dir.score(Z[4000:], y[4000:])["balanced_accuracy"]


def test_probe_without_signal_is_at_chance():
    Z, y = planted(n=2000, shift=0.0, rate=0.2, seed=4)
    scores = LinearProbe().fit(Z[:1500], y[:1500]).score(Z[1500:], y[1500:])
    assert 0.4 < scores["balanced_accuracy"] < 0.6
    assert scores["majority_baseline_accuracy"] == pytest.approx(np.mean(y[1500:] < 0))


@pytest.mark.parametrize("method", ["mean", "probe"])
def test_shift_moves_towards_the_positive_class_in_stated_units(method):
    Z, y = planted(shift=2.0, seed=5)
    direction = AttributeDirection(method).fit(Z, y)
    moved = direction.shift(Z[:5], [-1.0, 0.0, 2.0], unit="std")
    assert moved.shape == (5, 3, Z.shape[1]) and moved.dtype == np.float32
    along = direction.project(moved.reshape(-1, Z.shape[1])).reshape(5, 3) - direction.project(Z[:5])[:, None]
    sign = np.sign(direction.centre_gap_)
    np.testing.assert_allclose(along * sign, [[-direction.std_along_, 0, 2 * direction.std_along_]] * 5, atol=1e-4)
    one_gap = direction.shift(Z[:1], [1.0], unit="centres")[0, 0]
    gained = (direction.project(one_gap[None]) - direction.project(Z[:1]))[0]
    assert gained == pytest.approx(direction.centre_gap_, rel=1e-4)
    assert direction.predict(moved[:, 2]).mean() > 0  # pushed well into the positive side
    with pytest.raises(ValueError, match="unit"):
        direction.shift(Z[:1], [1.0], unit="furlongs")


def test_parse_strengths():
    np.testing.assert_allclose(parse_strengths("-2:2:5"), [-2, -1, 0, 1, 2])
    np.testing.assert_allclose(parse_strengths("0.5, -1"), [0.5, -1])
    for bad in ("1:2", "a:b:3", "1:2:0", "x", ""):
        with pytest.raises(ValueError):
            parse_strengths(bad)


# -- clusters -----------------------------------------------------------------------------

def test_silhouette_separates_clusters_from_overlap():
    far = silhouette(*planted(n=1500, d=5, shift=20.0, rate=0.1), max_points=600)
    near = silhouette(*planted(n=1500, d=5, shift=0.5, rate=0.1), max_points=600)
    assert far["mean"] > 0.5 and far["positive"] > 0.5 and far["negative"] > 0.5
    assert abs(near["mean"]) < 0.1
    assert far["n_per_class"] <= 300


def test_balanced_subsample_is_balanced_and_seeded():
    y = np.array([1] * 30 + [-1] * 970)
    idx = balanced_subsample(y, 1000, random_state=7)
    assert (y[idx] > 0).sum() == (y[idx] < 0).sum() == 30
    np.testing.assert_array_equal(idx, balanced_subsample(y, 1000, random_state=7))
    assert not np.array_equal(idx, balanced_subsample(y, 1000, random_state=8))


def test_direction_plane_axes_are_orthogonal():
    Z, y = planted(d=6, shift=3.0)
    direction = AttributeDirection("probe").fit(Z, y)
    views = LatentViews().fit(Z, direction.direction_)
    assert abs(views.orthogonal_axis_ @ views.direction_) < 1e-9
    plane = views.direction_plane(Z)
    np.testing.assert_allclose(plane[:, 0], direction.project(Z), atol=1e-9)
    assert views.pca_plane(Z).shape == (len(Z), 2)


def test_verdict_rule():
    assert verdict(0.3, 0.55) == "clusters"
    assert verdict(0.05, 0.9) == "linearly separable, no clusters"
    assert verdict(0.05, 0.7) == "weakly separable, no clusters"
    assert verdict(0.05, 0.55) == "no linear signal"
    assert verdict(0.9, 1.0, n_per_class=3).startswith("too few")


# -- the whole analysis on a run ---------------------------------------------------------------

def test_analyze_run_answers_and_writes(tmp_path):
    run = make_fake_run(tmp_path)
    summary = analyze_run(run, silhouette_points=400, progress=False)
    out = run.path / "attributes"
    assert json.loads((out / "summary.json").read_text())["attributes"].keys() == summary["attributes"].keys()
    assert list(summary["attributes"]) == ["Smiling", "Male", "Eyeglasses"]  # defaults present in the run
    assert (out / "summary.md").read_text().count("\n| ") == 4
    for name in ("overview", "views-Smiling", "views-Male", "views-Eyeglasses"):
        assert (out / f"{name}.png").stat().st_size > 10_000
    smiling = summary["attributes"]["Smiling"]
    assert smiling["verdict"] == "linearly separable, no clusters"
    assert smiling["probe"]["balanced_accuracy"] > 0.85
    assert summary["eval_split"] == "heldout" and summary["n_eval"] == 400

    full = analyze_run(run, attrs="Split,Bald", silhouette_points=400, figures=False, progress=False)
    assert full["attributes"]["Split"]["verdict"] == "clusters"
    assert full["attributes"]["Bald"]["verdict"] == "no linear signal"
    assert full["attributes"]["Split"]["silhouette"]["direction_plane"]["mean"] > 0.5
    again = analyze_run(run, attrs="Split,Bald", silhouette_points=400, figures=False, progress=False)
    assert again["attributes"] == full["attributes"]


def test_analysis_errors_and_fallback_split(tmp_path):
    with pytest.raises(AegenError, match="no attribute labels"):
        analyze_run(make_fake_run(tmp_path, with_attrs=False), progress=False)
    with pytest.raises(AegenError, match="valid names: " + ", ".join(ATTRS)):
        analyze_run(make_fake_run(tmp_path), attrs="Wearing_Hat", progress=False)
    run = make_fake_run(tmp_path, with_heldout=False, n_train=500)
    Z_fit, Y_fit, Z_eval, Y_eval, fit_split, eval_split = evaluation_split(run, ["Smiling"], random_state=3)
    assert len(Z_fit) == 400 and len(Z_eval) == 100 and "random" in eval_split
    assert not set(map(tuple, Z_fit.round(6))) & set(map(tuple, Z_eval.round(6)))


def test_classification_scores_match_sklearn_and_survive_one_class():
    from sklearn.metrics import balanced_accuracy_score

    from aegen.attributes.directions import classification_scores

    rng = np.random.default_rng(0)
    truth, pred = rng.choice([-1, 1], 200, p=[0.8, 0.2]), rng.choice([-1, 1], 200)
    scores = classification_scores(truth, pred)
    assert scores["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(truth, pred))
    assert scores["accuracy"] == pytest.approx(np.mean(truth == pred))
    only_negative = classification_scores(np.full(4, -1), np.array([-1, -1, 1, -1]))
    assert only_negative["balanced_accuracy"] == pytest.approx(0.75)
