"""Intervals and comparisons that need every row of an evaluation at once.

:func:`finish_rows` turns each row's per-repeat values into estimates with intervals, runs the
bootstrap with reference resamples shared by all rows (so that paired differences cancel the
reference set's noise), extrapolates FID∞ where asked, and compares every pair of rows.

A row fitted K > 1 times (``--fit-seeds``) is bootstrapped in two stages, fits then images
(:func:`~aegen.evaluate.metrics.intervals.cluster_bootstrap_draws`), so its interval and its paired
differences hold the fit-to-fit variance. FID∞ is paired too: every row subsamples the
reference at the same positions (and its generated pool at the same positions as every row
with a pool of its size), and each bootstrap replicate refits FID∞ on that replicate's
resampled sets with positions shared by all rows; the spread of those refits gives FID∞'s
interval and the paired differences of FID∞ between rows.
:func:`latent_loglik` scores held-out z-points under a sampler's density, the cheap ranking
that needs no Inception.
"""

from __future__ import annotations

import numpy as np

from aegen.evaluate.metrics.intervals import (
    GramPair,
    bootstrap_draws,
    bootstrap_interval,
    cluster_bootstrap_draws,
    fid_infinity,
    fid_infinity_sizes,
    mean_interval,
    paired_differences,
    wilson_interval,
)
from aegen.evaluate.metrics.distances import single_threaded_lapack
from aegen.evaluate.protocol.seeds import derive_seed
from aegen.evaluate.protocol.rows import row_label as _label
from aegen.latent.checks import subsample_indices

REPEAT_METRICS = ("fid", "kid", "precision", "recall", "density", "coverage")
# Draws per n when extrapolating FID∞ (each without replacement from the pools).
FID_INF_DRAWS = 2


def row_label(row: dict) -> str:
    """The label of a row being finished (see :func:`aegen.evaluate.protocol.rows.row_label`)."""
    return _label(row["method"], row.get("params"))


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
        row.update(face_rate=faces.estimate, face_rate_low=faces.low, face_rate_high=faces.high,
                   face_rate_interval=faces.label)


def finish_rows(scored_sets: list, features=None, *, seed: int, n: int, bootstrap: int, fid_infinity=(),
                rows: list[dict] | None = None) -> dict:
    """Add intervals to the rows of ``scored_sets`` in place; return the comparisons of every pair.

    features: the :class:`~aegen.evaluate.protocol.references.ReferenceFeatures` the rows were
    scored against (None without features); seed: the evaluation's seed, root of the bootstrap
    and FID∞ draws; n: generated images per set; bootstrap: replicates (0: none); fid_infinity:
    rows ('all' or names) whose FID∞ is extrapolated; rows: only these rows (default all).
    Returns ``{"differences": {"fid": [...], "kid": [...], "fid_inf": [...], "latent_loglik": [...]},
    "bootstrap": B}`` where each difference entry is one pair of rows scored against the
    held-out reference (``fid_inf``: the rows with FID∞).
    """
    with single_threaded_lapack():
        return _finish(scored_sets, features, seed, n, bootstrap, fid_infinity, rows)


def _finish(scored_sets: list, features, seed: int, n: int, B: int, fid_infinity, rows: list[dict] | None) -> dict:
    wanted = None if rows is None else {id(r) for r in rows}
    scored_sets = [s for s in scored_sets if wanted is None or id(s.row) in wanted]
    for scored in scored_sets:
        _repeat_intervals(scored.row)
    estimates = {"fid": {}, "kid": {}, "fid_inf": {}}
    replicates = {"fid": {}, "kid": {}, "fid_inf": {}}
    repeat_values = {"fid": {}, "kid": {}, "fid_inf": {}}
    if features is not None:
        reference_draws = bootstrap_draws(len(features.heldout), len(features.heldout), B,
                                          derive_seed(seed, "bootstrap")) if B else None
        for scored in scored_sets:
            row = scored.row
            if not scored.features:
                continue
            label = row_label(row)
            against_train = row["reference"]["split"] == "train"
            ref, gram = features.against(row["reference"]["split"])
            pair = GramPair(ref, np.concatenate(scored.features), reference_gram=gram)
            ref_draws = gen_draws = None
            fid_values = None
            if B:
                ref_draws = (bootstrap_draws(len(ref), len(ref), B, derive_seed(seed, "bootstrap-train"))
                             if against_train else reference_draws)
                gen_draws = cluster_bootstrap_draws(_image_fits(scored), n, B, derive_seed(seed, f"bootstrap-{label}"))
                for metric, fn in (("fid", pair.fid), ("kid", pair.kid)):
                    values = np.array([fn(ref_draws[b], gen_draws[b]) for b in range(B)])
                    interval = bootstrap_interval(row[metric], values)
                    if scored.set_fits is not None:
                        interval.label += f", fits resampled ({row.get('fits')} fits)"
                    row[f"{metric}_low"], row[f"{metric}_high"], row[f"{metric}_interval"] = (
                        interval.low, interval.high, interval.label)
                    if not against_train:
                        replicates[metric][label] = values
                    if metric == "fid":
                        fid_values = values
            if not against_train:
                for metric in ("fid", "kid"):
                    estimates[metric][label] = row[metric]
                    repeat_values[metric][label] = np.asarray(row.get(f"{metric}_repeat_values", []))
            if _wants_fid_inf(fid_infinity, row):
                fit, fid_inf_replicates = _fid_inf(pair, derive_seed(seed, "fid-infinity"), ref_draws, gen_draws,
                                                   fid_values)
                row.update(fit)
                if not against_train:
                    estimates["fid_inf"][label] = row["fid_inf"]
                    if fid_inf_replicates is not None:
                        replicates["fid_inf"][label] = fid_inf_replicates
    differences = {metric: paired_differences(list(estimates[metric]), estimates[metric], replicates[metric],
                                              repeat_values[metric]) for metric in ("fid", "kid", "fid_inf")}
    differences["latent_loglik"] = _loglik_differences(scored_sets)
    return {"differences": differences, "bootstrap": B}


def _wants_fid_inf(setting, row: dict) -> bool:
    if not setting:
        return False
    names = setting.split(",") if isinstance(setting, str) else list(setting)
    return "all" in names or row["method"] in names


def _image_fits(scored) -> np.ndarray:
    """The fit (0..K-1) of each generated image of a scored row, in the order of its pooled features."""
    sizes = [len(f) for f in scored.features]
    fits = scored.set_fits or [0] * len(sizes)
    return np.repeat(np.asarray(fits), sizes)


def _fid_inf(pair: GramPair, root: int, ref_draws, gen_draws, fid_values) -> tuple[dict, np.ndarray | None]:
    """FID∞ of one row and, with the bootstrap, its refit on every replicate (None without).

    The point estimate fits FID_n of subsamples at positions shared by every row (the
    reference's positions depend only on the seed, the pool's on the seed and the pool size).
    root: the seed of the subsample positions. Replicate b subsamples ``ref_draws[b]`` and ``gen_draws[b]`` at positions shared by every
    row too; at the largest n it is the FID replicate ``fid_values[b]`` already computed.
    """
    n_ref, n_pool = pair.g_rr.shape[0], pair.g_ff.shape[0]
    sizes = fid_infinity_sizes(min(n_ref, n_pool))
    ref_rng, gen_rng = np.random.default_rng([root, n_ref]), np.random.default_rng([root, n_ref, n_pool])
    points_n, points_fid = [], []
    for size in sizes:
        for _ in range(FID_INF_DRAWS):
            ri, gi = subsample_indices(n_ref, size, ref_rng), subsample_indices(n_pool, size, gen_rng)
            points_n.append(size)
            points_fid.append(pair.fid(ri, gi))
    fit = fid_infinity(points_n, points_fid)
    out = {"fid_inf": fit["fid_inf"], "fid_inf_low": fit["fid_inf_low"], "fid_inf_high": fit["fid_inf_high"],
           "fid_inf_interval": fit.get("interval"),
           "fid_inf_fit": {"n": fit["n"], "fid_n": fit["fid_n"], "slope": fit["slope"],
                           "note": "both sets subsampled to n without replacement at positions shared by every row; "
                                   "intercept of FID_n against 1/n"}}
    if ref_draws is None or gen_draws is None or len(ref_draws) < 2:
        return out, None
    replicate_sizes = fid_infinity_sizes(min(ref_draws.shape[1], gen_draws.shape[1]))
    refits = np.empty(len(ref_draws))
    for b, (ref_b, gen_b) in enumerate(zip(ref_draws, gen_draws)):
        rng = np.random.default_rng([root, ref_draws.shape[1], gen_draws.shape[1], b])
        values = []
        for size in replicate_sizes:
            if size == len(ref_b) == len(gen_b) and fid_values is not None:
                values.append(fid_values[b])
            else:
                values.append(pair.fid(ref_b[rng.choice(len(ref_b), size, replace=False)],
                                       gen_b[rng.choice(len(gen_b), size, replace=False)]))
        refits[b] = fid_infinity(replicate_sizes, values)["fid_inf"]
    interval = bootstrap_interval(out["fid_inf"], refits)
    out.update(fid_inf_low=interval.low, fid_inf_high=interval.high,
               fid_inf_interval=interval.label + ", FID∞ refitted on each (one subsample per n)")
    return out, refits


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
