"""Intervals and comparisons that need every row of an evaluation at once.

:func:`finish_rows` turns each row's per-repeat values into estimates with intervals, runs the
bootstrap with reference resamples shared by all rows (so that paired differences cancel the
reference set's noise), extrapolates FID∞ where asked, and compares every pair of rows.
:func:`latent_loglik` scores held-out z-points under a sampler's density, the cheap ranking
that needs no Inception.
"""

from __future__ import annotations

import numpy as np

from aegen.evaluate.intervals import (
    GramPair,
    bootstrap_draws,
    bootstrap_interval,
    fid_infinity,
    fid_infinity_sizes,
    mean_interval,
    paired_differences,
    wilson_interval,
)
from aegen.evaluate.metrics import single_threaded_lapack
from aegen.evaluate.protocol import derive_seed

REPEAT_METRICS = ("fid", "kid", "precision", "recall", "density", "coverage")
# Draws per n when extrapolating FID∞ (each without replacement from the pools).
FID_INF_DRAWS = 2


def row_label(row: dict) -> str:
    """'gmm', or 'ellipse-pca(fact=0.7, n_components=100)' for a row with parameters."""
    params = row.get("params") or {}
    return row["method"] + (f"({', '.join(f'{k}={v}' for k, v in sorted(params.items()))})" if params else "")


def latent_loglik(sampler, Z_heldout: np.ndarray) -> tuple[dict, np.ndarray | None]:
    """Mean held-out log-density per dimension under ``sampler`` (nats), with its standard error.

    Returns (summary, per-point values per dimension or None). Empty for samplers without a
    density. Points outside a bounded support (log density -inf) make the mean -inf,
    reported as None with their share.
    """
    try:
        values = np.asarray(sampler.log_prob(Z_heldout), dtype=float)
    except NotImplementedError:
        return {}, None
    d = Z_heldout.shape[1]
    finite = np.isfinite(values)
    out = {"latent_loglik_points": int(values.size), "latent_loglik_outside_support": float(1.0 - finite.mean())}
    if finite.all():
        out["latent_loglik"] = float(values.mean() / d)
        out["latent_loglik_se"] = float(values.std(ddof=1) / np.sqrt(values.size) / d)
        return out, values / d
    out["latent_loglik"] = None
    return out, None


def _repeat_intervals(row: dict) -> None:
    for name in REPEAT_METRICS:
        values = [v for v in row.pop(f"{name}_repeats", []) if v is not None]
        if not values:
            continue
        interval = mean_interval(values)
        row[name] = interval.estimate
        row[f"{name}_repeat_values"] = values
        row[f"{name}_low"], row[f"{name}_high"], row[f"{name}_interval"] = interval.low, interval.high, interval.label
    if row.get("faces_tested"):
        faces = wilson_interval(row["faces_found"], row["faces_tested"])
        row.update(face_rate=faces.estimate, face_rate_low=faces.low, face_rate_high=faces.high)


def finish_rows(evaluator, scored_sets: list, rows: list[dict] | None = None) -> dict:
    """Add intervals to the rows of ``scored_sets`` in place; return the comparisons (see :func:`_finish`)."""
    with single_threaded_lapack():
        return _finish(evaluator, scored_sets, rows)


def _finish(evaluator, scored_sets: list, rows: list[dict] | None) -> dict:
    """Intervals for the rows of ``scored_sets``, in place, and the comparisons of every pair.

    Returns ``{"differences": {"fid": [...], "kid": [...], "latent_loglik": [...]}, "bootstrap": B}``
    where each difference entry is one pair of rows scored against the held-out reference.
    """
    wanted = None if rows is None else {id(r) for r in rows}
    scored_sets = [s for s in scored_sets if wanted is None or id(s.row) in wanted]
    B, n = evaluator.bootstrap, evaluator.n
    for scored in scored_sets:
        _repeat_intervals(scored.row)
    estimates = {"fid": {}, "kid": {}}
    replicates = {"fid": {}, "kid": {}}
    repeat_values = {"fid": {}, "kid": {}}
    if evaluator.extractor_ is not None:
        reference = evaluator.heldout_features_
        reference_draws = bootstrap_draws(len(reference), len(reference), B, evaluator.seeds_["bootstrap"]) if B else None
        for scored in scored_sets:
            row = scored.row
            if not scored.features:
                continue
            label = row_label(row)
            against_train = row["reference"]["split"] == "train"
            ref = evaluator.train_features_ if against_train else reference
            pair = GramPair(ref, np.concatenate(scored.features),
                            reference_gram=None if against_train else evaluator.reference_gram_)
            if B:
                ref_draws = (bootstrap_draws(len(ref), len(ref), B, derive_seed(evaluator.seed, "bootstrap-train"))
                             if against_train else reference_draws)
                gen_draws = bootstrap_draws(pair.g_ff.shape[0], n, B, derive_seed(evaluator.seed, f"bootstrap-{label}"))
                for metric, fn in (("fid", pair.fid), ("kid", pair.kid)):
                    values = np.array([fn(ref_draws[b], gen_draws[b]) for b in range(B)])
                    interval = bootstrap_interval(row[metric], values)
                    row[f"{metric}_low"], row[f"{metric}_high"], row[f"{metric}_interval"] = (
                        interval.low, interval.high, interval.label)
                    if not against_train:
                        replicates[metric][label] = values
            if not against_train:
                for metric in ("fid", "kid"):
                    estimates[metric][label] = row[metric]
                    repeat_values[metric][label] = np.asarray(row.get(f"{metric}_repeat_values", []))
            if _wants_fid_inf(evaluator.fid_infinity, row):
                row.update(_fid_inf(pair, evaluator, label))
    differences = {metric: paired_differences(list(estimates[metric]), estimates[metric], replicates[metric],
                                              repeat_values[metric]) for metric in ("fid", "kid")}
    differences["latent_loglik"] = _loglik_differences(scored_sets)
    return {"differences": differences, "bootstrap": B}


def _wants_fid_inf(setting, row: dict) -> bool:
    if not setting:
        return False
    names = setting.split(",") if isinstance(setting, str) else list(setting)
    return "all" in names or row["method"] in names


def _fid_inf(pair: GramPair, evaluator, label: str) -> dict:
    n_ref, n_pool = pair.g_rr.shape[0], pair.g_ff.shape[0]
    sizes = fid_infinity_sizes(min(n_ref, n_pool))
    rng = np.random.default_rng(derive_seed(evaluator.seeds_["fid-infinity"], label))
    points_n, points_fid = [], []
    for size in sizes:
        for _ in range(FID_INF_DRAWS):
            ri = np.sort(rng.choice(n_ref, size, replace=False))
            gi = np.sort(rng.choice(n_pool, size, replace=False))
            points_n.append(size)
            points_fid.append(pair.fid(ri, gi))
    fit = fid_infinity(points_n, points_fid)
    return {"fid_inf": fit["fid_inf"], "fid_inf_low": fit["fid_inf_low"], "fid_inf_high": fit["fid_inf_high"],
            "fid_inf_fit": {"n": fit["n"], "fid_n": fit["fid_n"], "slope": fit["slope"],
                            "note": "both sets subsampled to n without replacement; intercept of FID_n against 1/n"}}


def _loglik_differences(scored_sets: list) -> list[dict]:
    """Paired differences of held-out latent log-likelihood per dimension (same held-out points)."""
    values = {row_label(s.row): s.loglik_values for s in scored_sets if s.loglik_values is not None}
    names = list(values)
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            diff = values[a] - values[b]
            se = diff.std(ddof=1) / np.sqrt(diff.size)
            mean = float(diff.mean())
            out.append({"a": a, "b": b, "difference": mean, "low": mean - 1.96 * se, "high": mean + 1.96 * se,
                        "significant": bool(abs(mean) > 1.96 * se), "interval": "95% normal interval, paired over held-out points"})
    return out
