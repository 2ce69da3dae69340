"""``aegen attributes``: do attributes form clusters in the z-point cloud?

For each chosen attribute: class centres and their distance in units of the cloud's spread,
the covariance difference, a linear probe's held-out accuracy, silhouette scores in the full
latent space and in two 2-D views, and a verdict. Directions and probes are fitted on the
run's training z-points; accuracies, silhouettes and views use the held-out z-points, whose
labels no fit has seen. Results go to RUN/attributes/ (summary.json, summary.md, figures).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from aegen import AegenError
from aegen.attributes.clusters import LatentViews, silhouette
from aegen.attributes.directions import AttributeDirection
from aegen.attributes.labels import attribute_labels, attribute_names, resolve_attributes
from aegen.attributes.separation import class_separation
from aegen.io import write_json, write_text

# Verdict thresholds; recorded in summary.json with the results.
CLUSTER_SILHOUETTE = 0.25  # Kaufman and Rousseeuw: below this, no substantial structure
STRONG_PROBE = 0.80        # held-out balanced accuracy of the linear probe
WEAK_PROBE = 0.65
MIN_PER_CLASS = 10         # fewer evaluation points per class than this: no verdict

DEFINITIONS = {
    "fit_split": "class centres, covariances, directions and probes are fitted on these z-points",
    "eval_split": "held-out accuracies, silhouettes and 2-D views use these z-points",
    "centre_distance": "||mu1 - mu0||, mu1/mu0 the centres of the images with/without the attribute",
    "centre_distance_in_spread": "||mu1 - mu0|| / sqrt(trace(S)/d), S the covariance of all z-points",
    "mahalanobis_distance": "sqrt(dmu^T Sw^-1 dmu), Sw the pooled within-class covariance (plug-in)",
    "mahalanobis_distance_debiased": "unbiased estimate of D^2 for normal classes with shared covariance, "
                                     "(N-d-3)/(N-2) D^2 - d(1/n1+1/n0), clipped at 0, square-rooted",
    "gaussian_balanced_accuracy": "Phi(D_debiased / 2): best linear balanced accuracy if both classes were "
                                  "normal with a shared covariance",
    "cohen_d_mean_direction": "||mu1 - mu0|| / within-class std along the mean-difference direction",
    "covariance_difference": "||S1 - S0||_F / ||S||_F, S1/S0 the class covariances",
    "covariance_difference_random_split": "the same for a random split of the same sizes (noise level)",
    "probe": "logistic regression on standardised z (class_weight balanced), scored on eval_split",
    "mean_direction": "classify by the side of the midpoint between class centres projected on mu1 - mu0",
    "cosine_mean_probe": "cosine between the mean-difference direction and the probe's normal",
    "silhouette": "mean silhouette on a balanced subsample of eval_split (equal points per class): "
                  "'latent' in all d dimensions, 'pca_plane' on the top 2 principal axes, "
                  "'direction_plane' on (probe direction, top principal axis orthogonal to it)",
    "verdict": f"'clusters' if latent silhouette >= {CLUSTER_SILHOUETTE}; else 'linearly separable, "
               f"no clusters' if probe balanced accuracy >= {STRONG_PROBE}; 'weakly separable, no clusters' "
               f"if >= {WEAK_PROBE}; else 'no linear signal'; no verdict with fewer than {MIN_PER_CLASS} evaluation "
               "points in a class",
}


def verdict(latent_silhouette: float, probe_balanced_accuracy: float, n_per_class: int = MIN_PER_CLASS) -> str:
    """The one-phrase cluster answer for one attribute (rule in ``DEFINITIONS['verdict']``)."""
    if n_per_class < MIN_PER_CLASS:
        return "too few evaluation points to judge"
    if latent_silhouette >= CLUSTER_SILHOUETTE:
        return "clusters"
    if probe_balanced_accuracy >= STRONG_PROBE:
        return "linearly separable, no clusters"
    if probe_balanced_accuracy >= WEAK_PROBE:
        return "weakly separable, no clusters"
    return "no linear signal"


def evaluation_split(run, names: Sequence[str], holdout_fraction: float = 0.2, random_state: int = 0):
    """z-points and labels to fit on and to evaluate on.

    Returns (Z_fit (N, d), Y_fit (N, A), Z_eval (M, d), Y_eval (M, A), fit_split, eval_split).
    Uses the run's held-out split when it has labels for ``names`` and at least 2 images of
    each class of each attribute; else a seeded random ``holdout_fraction`` of the training
    z-points is held out (the split names say so).
    """
    Z_train = np.asarray(run.zpoints("train"), dtype=np.float64)
    Y_train = attribute_labels(run, "train", names)
    try:
        Z_held = np.asarray(run.zpoints("heldout"), dtype=np.float64)
        Y_held = attribute_labels(run, "heldout", names)
        n_positive = (Y_held > 0).sum(axis=0)
        if min(n_positive.min(), (Y_held.shape[0] - n_positive).min()) >= 2:
            return Z_train, Y_train, Z_held, Y_held, "train", "heldout"
    except AegenError:
        pass
    rng = np.random.default_rng(random_state)
    order = rng.permutation(Z_train.shape[0])
    n_eval = max(2, int(round(holdout_fraction * Z_train.shape[0])))
    ev, fit = np.sort(order[:n_eval]), np.sort(order[n_eval:])
    return (Z_train[fit], Y_train[fit], Z_train[ev], Y_train[ev],
            f"train (random {1 - holdout_fraction:.0%}, seed {random_state})",
            f"train (random {holdout_fraction:.0%}, seed {random_state})")


def analyze_attribute(Z_fit: np.ndarray, y_fit: np.ndarray, Z_eval: np.ndarray, y_eval: np.ndarray,
                      silhouette_points: int = 4000, probe_C: float = 1.0, random_state: int = 0) -> dict:
    """The cluster analysis of one attribute.

    Z_fit (N, d), y_fit (N,), Z_eval (M, d), y_eval (M,); labels in {-1, 1}. Returns a dict
    of JSON-ready results plus the private keys ``_views`` (fitted LatentViews),
    ``_probe_direction`` and ``_mean_direction`` (fitted AttributeDirection) for figures.
    """
    for labels, split in ((y_fit, "fit"), (y_eval, "evaluation")):
        n_pos = int(np.sum(np.asarray(labels) > 0))
        if min(n_pos, len(labels) - n_pos) < 2:
            raise AegenError(f"the {split} z-points hold {n_pos} of {len(labels)} positive examples: "
                             "each class needs at least 2")
    separation = class_separation(Z_fit, y_fit, random_state=random_state)
    probe_dir = AttributeDirection("probe", C=probe_C, random_state=random_state).fit(Z_fit, y_fit)
    mean_dir = AttributeDirection("mean", random_state=random_state).fit(Z_fit, y_fit)
    views = LatentViews(random_state=random_state).fit(Z_fit, probe_dir.direction_)
    silhouettes = {
        "latent": silhouette(Z_eval, y_eval, silhouette_points, random_state),
        "pca_plane": silhouette(views.pca_plane(Z_eval), y_eval, silhouette_points, random_state),
        "direction_plane": silhouette(views.direction_plane(Z_eval), y_eval, silhouette_points, random_state),
    }
    probe_scores = probe_dir.probe_.score(Z_eval, y_eval)
    probe_scores["train_balanced_accuracy"] = probe_dir.probe_.score(Z_fit, y_fit)["balanced_accuracy"]
    return {
        **separation.to_dict(),
        "probe": probe_scores,
        "mean_direction": mean_dir.score(Z_eval, y_eval),
        "cosine_mean_probe": float(abs(mean_dir.direction_ @ probe_dir.direction_)),
        "silhouette": silhouettes,
        "verdict": verdict(silhouettes["latent"]["mean"], probe_scores["balanced_accuracy"],
                           silhouettes["latent"]["n_per_class"]),
        "_views": views,
        "_probe_direction": probe_dir,
        "_mean_direction": mean_dir,
    }


def analyze_run(run, attrs: str | Sequence[str] | None = None, silhouette_points: int = 4000,
                probe_C: float = 1.0, random_state: int = 0, figures: bool = True,
                progress: bool = True) -> dict:
    """Analyse the chosen attributes of a run and write RUN/attributes/summary.{json,md} + figures.

    Returns the summary dict written to summary.json.
    """
    if silhouette_points < 4:
        raise ValueError(f"silhouette_points must be >= 4, got {silhouette_points}")
    names = resolve_attributes(attrs, attribute_names(run, "train"))
    Z_fit, Y_fit, Z_eval, Y_eval, fit_split, eval_split = evaluation_split(run, names, random_state=random_state)
    out_dir = Path(run.subdir("attributes"))
    results: dict[str, dict] = {}
    figure_paths: list[str] = []
    for k, name in enumerate(tqdm(names, desc="attributes", disable=not progress)):
        result = analyze_attribute(Z_fit, Y_fit[:, k], Z_eval, Y_eval[:, k], silhouette_points, probe_C, random_state)
        if figures:
            from aegen.attributes.figures import plot_attribute_views

            path = plot_attribute_views(out_dir / f"views-{name}.png", name, result, Z_eval, Y_eval[:, k],
                                        eval_split=eval_split, max_points=silhouette_points, random_state=random_state)
            figure_paths.append(path.name)
        results[name] = {key: value for key, value in result.items() if not key.startswith("_")}
    summary = {
        "definitions": DEFINITIONS,
        "thresholds": {"cluster_silhouette": CLUSTER_SILHOUETTE, "strong_probe": STRONG_PROBE, "weak_probe": WEAK_PROBE,
                       "min_per_class": MIN_PER_CLASS},
        "fit_split": fit_split,
        "eval_split": eval_split,
        "n_fit": int(Z_fit.shape[0]),
        "n_eval": int(Z_eval.shape[0]),
        "z_dim": int(Z_fit.shape[1]),
        "silhouette_points": silhouette_points,
        "probe_C": probe_C,
        "random_state": random_state,
        "attributes": results,
        "answer": cluster_answer(results),
    }
    if figures:
        from aegen.attributes.figures import plot_overview

        figure_paths.insert(0, plot_overview(out_dir / "overview.png", summary).name)
    summary["figures"] = figure_paths
    write_json(out_dir / "summary.json", summary)
    write_text(out_dir / "summary.md", summary_markdown(summary))
    return summary


def cluster_answer(results: dict[str, dict]) -> str:
    """One sentence per verdict that answers the seed's question for the analysed attributes."""
    groups: dict[str, list[str]] = {}
    for name, result in results.items():
        groups.setdefault(result["verdict"], []).append(
            f"{name} (silhouette {result['silhouette']['latent']['mean']:.3f}, "
            f"probe balanced accuracy {result['probe']['balanced_accuracy']:.3f})")
    return " ".join(f"{verdict_}: {', '.join(items)}." for verdict_, items in groups.items())


def summary_markdown(summary: dict) -> str:
    """A markdown table of the main numbers of ``summary`` (as returned by analyze_run)."""
    lines = [
        "# Attribute clusters in latent space\n",
        f"Fitted on {summary['n_fit']} z-points ({summary['fit_split']}), evaluated on {summary['n_eval']} "
        f"({summary['eval_split']}); z_dim {summary['z_dim']}; silhouettes on balanced subsamples of at most "
        f"{summary['silhouette_points']} points, seed {summary['random_state']}.\n",
        "| attribute | positive | centre dist / spread | Mahalanobis D | cov. diff (noise) "
        "| probe acc | probe bal. acc | mean-dir bal. acc | silhouette latent / PCA / direction | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in summary["attributes"].items():
        s = r["silhouette"]
        lines.append(
            f"| {name} | {r['positive_rate']:.1%} | {r['centre_distance_in_spread']:.2f} "
            f"| {r['mahalanobis_distance_debiased']:.2f} "
            f"| {r['covariance_difference']:.3f} ({r['covariance_difference_random_split']:.3f}) "
            f"| {r['probe']['accuracy']:.3f} | {r['probe']['balanced_accuracy']:.3f} "
            f"| {r['mean_direction']['balanced_accuracy']:.3f} "
            f"| {s['latent']['mean']:.3f} / {s['pca_plane']['mean']:.3f} / {s['direction_plane']['mean']:.3f} "
            f"| {r['verdict']} |")
    lines += ["", f"**Answer.** {summary['answer']}", ""]
    return "\n".join(lines)
