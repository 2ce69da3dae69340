"""Conditional sampling, checked by an independent judge.

A sampler fitted on the z-points of the training images that meet a condition (say
``Smiling=1``) should generate faces that carry it. Whether they do is measured, not assumed:
the attribute CNN of :mod:`aegen.attributes.classifier`, trained on the real images, rates the
decoded samples. For each chosen attribute the sampler is fitted three times (all z-points,
the attribute's positive class, its negative class) and the share of samples that carry the
requested value is compared with unconditional samples, with the real images' label rate
and with what the classifier says about real held-out images of that class (its ceiling).

The samplers come from :func:`aegen.sample.fitted_sampler`, the path of ``aegen sample
--where``: the same parameters (``fit_on`` included) and the same cache in RUN/samplers/.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from aegen import AegenError
from aegen.attributes.classifier import load_or_train_classifier
from aegen.attributes.directions import classification_scores
from aegen.attributes.labels import attribute_names, resolve_attributes
from aegen.conditions import condition_name, where_mask
from aegen.io import write_json, write_text
from aegen.plots import save_image_grid
from aegen.sample import fitted_sampler, split_fit_on, training_zpoints

# The acceptance target: a requested attribute is carried by at least SHARE_TARGET of the
# conditional samples, judged by a classifier at least CLASSIFIER_TARGET accurate on real images.
SHARE_TARGET = 0.80
CLASSIFIER_TARGET = 0.90
GRID_IMAGES = 36


def _fitted(run, method: str, params: dict, where: Mapping[str, int],
            sampler_factory: Callable | None) -> tuple[object, int]:
    """(the sampler of ``method`` fitted on the training z-points meeting ``where``, their number).

    By default through :func:`aegen.sample.fitted_sampler` (its cache, ``fit_on``);
    ``sampler_factory(method, params)`` -> an unfitted sampler, fitted here on the same rows.
    """
    label = condition_name(where)
    if sampler_factory is None:
        try:
            sampler, info = fitted_sampler(run, method, params, where, progress=False)
        except ValueError as exc:  # a sampler that cannot fit this class; bad parameters fail on the first
            if not where:
                raise
            raise AegenError(f"sampler {method!r} on the z-points of {label}: {exc}") from None
        return sampler, int(info["n_zpoints"])
    fit_on, sampler_params = split_fit_on(params)
    sampler = sampler_factory(method, sampler_params)  # an unknown method or parameter fails here, whatever the data
    Z, _ = training_zpoints(run, dict(where), fit_on)
    try:
        sampler.fit(np.asarray(Z, dtype=np.float32))
    except ValueError as exc:
        raise AegenError(f"sampler {method!r} on the {Z.shape[0]} z-points of {label}: {exc}") from None
    return sampler, int(Z.shape[0])


def _shares(predicted: np.ndarray, names: Sequence[str], where: Mapping[str, int]) -> tuple[dict, float]:
    """Share of rows of ``predicted`` (n, A) in {-1, 1} carrying each requested value, and all at once."""
    per_name = {name: float(np.mean(predicted[:, names.index(name)] == value)) for name, value in where.items()}
    together = where_mask(predicted, names, where)
    return per_name, float(together.mean()) if predicted.shape[0] else float("nan")


def rate_conditional_sampling(run, attrs: str | Sequence[str] | None = None, method: str = "gaussian",
                              n: int = 500, params: Mapping | None = None, random_state: int = 0,
                              extra_where: Sequence[Mapping[str, int]] = (), classifier_params: Mapping | None = None,
                              retrain: bool = False, sampler_factory: Callable | None = None,
                              progress: bool = True, figures: bool = True) -> dict:
    """Sample with and without attribute conditions, classify the decoded faces, compare shares.

    attrs: attributes to condition on one at a time (=1 and =-1); extra_where: further
    conditions (e.g. ``{"Smiling": 1, "Male": -1}``); method/params: the sampler (params as
    ``aegen sample`` takes them, ``fit_on`` included), fitted on the matching training z-points
    as :func:`aegen.sample.fitted_sampler` fits (and caches) them, drawn ``n`` times with
    ``random_state``; sampler_factory(method, params) -> an unfitted sampler instead (no cache). Writes
    RUN/attributes/conditional.{json,md,png} and sample grids in RUN/attributes/conditional/.
    Returns the dict written to conditional.json.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    params = dict(params or {})
    all_names = attribute_names(run, "train")
    names = resolve_attributes(attrs, all_names)
    train_labels = np.asarray(run.zpoint_meta("train")["attrs"])
    out_dir = Path(run.subdir("attributes"))
    timings: dict[str, float] = {}

    start = time.perf_counter()
    clf = load_or_train_classifier(run, retrain=retrain, progress=progress, **dict(classifier_params or {}))
    timings["classifier"] = time.perf_counter() - start
    if clf.attr_names_ != all_names:
        raise AegenError("the cached attribute classifier does not match the run's attributes: use retrain")

    start = time.perf_counter()
    reliability = _classifier_reliability(run, clf, names, progress)
    timings["reliability"] = time.perf_counter() - start

    conditions = [{}] + [{name: value} for name in names for value in (1, -1)] + [dict(w) for w in extra_where]
    grid_dir = out_dir / "conditional"
    records = []
    start = time.perf_counter()
    for where in tqdm(conditions, desc="conditional sampling", disable=not progress):
        label = condition_name(where)
        n_meeting = int(where_mask(train_labels, all_names, where).sum())
        if n_meeting < 2:
            raise AegenError(f"only {n_meeting} training z-points meet {label}: too few to fit a sampler")
        sampler, n_fit = _fitted(run, method, params, where, sampler_factory)
        samples = np.asarray(sampler.sample(n, random_state=random_state), dtype=np.float32)
        images = run.decode(samples, progress=False)
        predicted = clf.predict(images)
        per_name, together = _shares(predicted, all_names, where)
        record = {
            "name": label, "where": dict(where), "n_fit_zpoints": n_fit, "n_samples": int(n),
            "positive_rate": {a: float(np.mean(predicted[:, all_names.index(a)] > 0)) for a in names},
            "requested_share": per_name, "all_requested_share": together,
        }
        if figures:
            file = grid_dir / f"{label.replace(',', '+')}.png"
            save_image_grid(file, images[:GRID_IMAGES], ncols=int(np.ceil(np.sqrt(min(n, GRID_IMAGES)))), scale=2)
            record["grid"] = str(file.relative_to(out_dir))
        records.append(record)
    timings["sampling"] = time.perf_counter() - start

    result = {
        "method": method, "params": params, "n_per_condition": int(n), "random_state": random_state,
        "target": {"share": SHARE_TARGET, "classifier_accuracy": CLASSIFIER_TARGET},
        "classifier": {"params": clf.get_params(), "n_train": clf.n_train_, "train_seconds": clf.train_seconds_,
                       "reliability": reliability},
        "conditions": records,
        "attributes": _attribute_table(names, records, reliability, train_labels, all_names),
        "seconds": timings,
    }
    if figures:
        from aegen.attributes.figures_generation import plot_conditional_rates

        result["figure"] = plot_conditional_rates(out_dir / "conditional.png", result).name
    write_json(out_dir / "conditional.json", result)
    write_text(out_dir / "conditional.md", conditional_markdown(result))
    return result


def _classifier_reliability(run, clf, names: Sequence[str], progress: bool) -> dict:
    """How well the classifier judges real held-out images and their reconstructions.

    Reconstructions come out of the decoder like the samples do, so a classifier that fails
    on them would misjudge the samples too. Returns {name: {"real": scores, "reconstructed":
    scores}}, scores as in :meth:`AttributeClassifier.score`, plus "real_share" per value:
    the share of real held-out images of each class the classifier assigns to that class.
    """
    try:
        held_labels = run.zpoint_meta("heldout")["attrs"]
        Z_held = run.zpoints("heldout")
    except AegenError:
        held_labels = None
    if held_labels is None or not len(held_labels):
        return {name: {} for name in names}
    held_labels = np.asarray(held_labels)
    real_pred = clf.predict(run.images("heldout"))
    recon_pred = clf.predict(run.decode(np.array(Z_held, dtype=np.float32), progress=progress))
    out = {}
    for name in names:
        k = clf.attr_names_.index(name)
        truth = held_labels[:, k]
        entry = {}
        for kind, pred in (("real", real_pred[:, k]), ("reconstructed", recon_pred[:, k])):
            scores = classification_scores(truth, pred)
            for value, key in ((1, "share_called_positive_if_positive"), (-1, "share_called_negative_if_negative")):
                sel = truth == value
                scores[key] = float(np.mean(pred[sel] == value)) if sel.any() else float("nan")
            entry[kind] = scores
        out[name] = entry
    return out


def _ratio(numerator: float, denominator: float | None) -> float:
    return numerator / denominator if denominator and np.isfinite(denominator) else float("nan")


def _attribute_table(names, records, reliability, train_labels, all_names) -> dict:
    by_name = {r["name"]: r for r in records}
    unconditional = by_name["unconditional"]
    table = {}
    for name in names:
        real = reliability.get(name, {}).get("real", {})
        recon = reliability.get(name, {}).get("reconstructed", {})
        positive = by_name[condition_name({name: 1})]["requested_share"][name]
        negative = by_name[condition_name({name: -1})]["requested_share"][name]
        accuracy = real.get("accuracy", float("nan"))
        table[name] = {
            "real_positive_rate": float(np.mean(train_labels[:, all_names.index(name)] > 0)),
            "unconditional_positive_rate": unconditional["positive_rate"][name],
            "positive_share_when_requested": positive,
            "negative_share_when_requested": negative,
            "unconditional_negative_rate": 1.0 - unconditional["positive_rate"][name],
            "classifier_accuracy": accuracy,
            "classifier_balanced_accuracy": real.get("balanced_accuracy", float("nan")),
            "classifier_balanced_accuracy_reconstructed": recon.get("balanced_accuracy", float("nan")),
            "classifier_ceiling_positive": real.get("share_called_positive_if_positive", float("nan")),
            "classifier_ceiling_negative": real.get("share_called_negative_if_negative", float("nan")),
            # The share the classifier would report for real images of the class is its ceiling:
            # the ratio says how often the samples carry the attribute relative to real faces.
            "positive_share_relative_to_real": _ratio(positive, real.get("share_called_positive_if_positive")),
            "negative_share_relative_to_real": _ratio(negative, real.get("share_called_negative_if_negative")),
            "meets_target": bool(accuracy >= CLASSIFIER_TARGET and positive >= SHARE_TARGET
                                 and negative >= SHARE_TARGET),
        }
    return table


def conditional_markdown(result: dict) -> str:
    """Markdown tables of conditional.json: per attribute, then per extra condition."""
    lines = [
        "# Conditional sampling rated by the attribute classifier\n",
        f"Sampler `{result['method']}`{' ' + str(result['params']) if result['params'] else ''}, "
        f"{result['n_per_condition']} samples per condition, seed {result['random_state']}. Classifier: "
        f"{result['classifier']['n_train']} training images, {result['classifier']['train_seconds']:.0f} s. Target: a requested value carried by >= "
        f"{SHARE_TARGET:.0%} of samples, classifier >= {CLASSIFIER_TARGET:.0%} accurate on real held-out images.\n",
        "| attribute | clf acc (bal) real | clf bal acc recon | has it: real labels | uncond. samples "
        "| =1 samples | real =1 called 1 | lacks it: uncond. | =-1 samples | real =-1 called -1 | target |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result["attributes"].items():
        lines.append(
            f"| {name} | {r['classifier_accuracy']:.3f} ({r['classifier_balanced_accuracy']:.3f}) "
            f"| {r['classifier_balanced_accuracy_reconstructed']:.3f} | {r['real_positive_rate']:.1%} "
            f"| {r['unconditional_positive_rate']:.1%} | **{r['positive_share_when_requested']:.1%}** "
            f"| {r['classifier_ceiling_positive']:.1%} | {r['unconditional_negative_rate']:.1%} "
            f"| **{r['negative_share_when_requested']:.1%}** | {r['classifier_ceiling_negative']:.1%} "
            f"| {'met' if r['meets_target'] else 'not met'} |")
    extra = [c for c in result["conditions"] if len(c["where"]) > 1]
    if extra:
        lines += ["", "| condition | z-points fitted | share meeting all | share per attribute |", "|---|---|---|---|"]
        for c in extra:
            per = ", ".join(f"{k}: {v:.1%}" for k, v in c["requested_share"].items())
            lines.append(f"| {c['name']} | {c['n_fit_zpoints']} | {c['all_requested_share']:.1%} | {per} |")
    return "\n".join(lines) + "\n"
