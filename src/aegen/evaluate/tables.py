"""Markdown tables of evaluation rows (columns of :data:`aegen.evaluate.protocol.rows.COLUMNS`), with the
protocol stated above them and the paired comparisons below."""

from __future__ import annotations

import numpy as np

from aegen.evaluate.protocol.record import EvalProtocol
from aegen.evaluate.protocol.rows import (
    COLUMNS,
    PairedDifferences,
    as_rows,
    feature_label,
    interval_text,
    number,
    percent,
)


REFERENCE_VALUE_CELLS = [
    ("face_rate", "faces", percent),
    ("nn_train_median", "NN-train median", lambda v: number(v, 3)),
    ("latent_in_band", "z radius in band", percent),
    ("latent_radius_median", "radius median", lambda v: number(v, 1)),
]


def caption(protocol: EvalProtocol) -> list[str]:
    """Lines stating N, what each interval is, the features, the reference values and anything skipped.

    A partial record raises (AttributeError without the reference set or the latent check, TypeError
    without N, the seed, the reference's sizes or the image size), and the report leaves these lines out."""
    ref = protocol.reference
    label = feature_label(protocol)
    # Older files lack these settings: they drew one set per sampler from one fit, without bootstrap.
    repeats, bootstrap, fits = protocol.repeats or 1, protocol.bootstrap or 0, protocol.fit_seeds or 1
    reconstruction_rows = ref.n if ref.reconstruction_rows is None else ref.reconstruction_rows
    if None in (protocol.n, ref.n, ref.n_train_reference, protocol.image_size):
        raise TypeError("the protocol does not record N, the reference set's sizes or the image size")
    lines = [f"N = {protocol.n} generated images per set, {repeats} set(s) per sampler (seeds "
             f"{protocol.seed}..{protocol.seed + repeats - 1}), against {ref.n} held-out images "
             f"(row `reconstruction`: {reconstruction_rows} other held-out images, encoded and decoded; "
             f"row `real`: the held-out reference images against {ref.n_train_reference} training images). "
             f"Image size {protocol.image_size} px."]
    if fits > 1:
        lines[0] += (f" Samplers with a random fit were fitted {fits} times (random_state from the seed, "
                     f"{protocol.seeds.get('fits')}), each drawing the sets above (seeds continue per fit).")
    if bootstrap:
        lines.append(f"FID and KID: mean over the sets; [95%]: normal bootstrap interval from {bootstrap} replicates "
                     "resampling both the reference images and the row's generated images"
                     + (" (fits first, then images: fit-to-fit variance included)" if fits > 1 else "")
                     + f". It covers FID at N = {protocol.n} against a {ref.n}-image reference, not the distance "
                       "between the distributions: FID at N is biased upward by an amount that differs by row, so "
                       "compare rows by their paired differences, KID (unbiased) or paired FID∞.")
    elif repeats > 1:
        lines.append(f"FID and KID: mean over the sets; [95%]: t interval over the {repeats} sets (reference fixed).")
    else:
        lines.append("FID and KID: one set, no interval (use --repeats or --bootstrap).")
    if label == "Inception":
        extractor = protocol.features
        mode = extractor.get("precision") or extractor.get("mode")
        if mode == "bf16" and extractor.get("calibration"):
            mode = (f"{extractor.get('backend')} bf16 calibrated to float32 "
                    f"(features x {extractor['calibration']['scale']:.4f}, see docs/RESULTS.md, 'How trustworthy are the figures')")
        lines.append("Features: the TensorFlow FID Inception-v3 (pool-3, 2048-d) with TF1's bilinear resize to 299"
                     + (f", {mode}" if mode else "") + f"; precision/recall (k = {protocol.precision_recall['k']}) "
                     f"and density/coverage (k = {protocol.density_coverage['k']}) on the same Inception features, "
                     f"not VGG-16. FID is biased upward at N = {protocol.n} (published FIDs use 10,000 or more; "
                     "FID∞ below where computed); KID is unbiased.")
    elif label != "none":
        lines.append(f"**Features: {protocol.features['name']}.** These FID/KID/precision/recall values measure "
                     "pixel statistics and are not comparable with published (Inception) values.")
    band = (protocol.latent_check.get("band") or {}).get("radii")
    copying = (protocol.memorisation or {}).get("copying_test")
    sides = (f"{copying['training_side']} training and {copying['heldout_side']} held-out images"
             if isinstance(copying, dict) else "the training and held-out images")
    lines.append(f"copy Z (excess): is each generated image's (32-px pixels) nearest neighbour among {sides} "
                 "(whole pools; the reconstruction row's originals are the probe, in neither) a training image? "
                 "z-score of that share against the share the pools' sizes predict for any generator that never saw "
                 "either, blurry or not, and in brackets the excess (0: independent, 1: copies); 'N near': generated "
                 "images won by a training image at a distance below the probe images' 1st percentile (listed in "
                 "metrics.json); 'copying' when z < −3 with excess ≥ 0.5 over all images or over the near ones "
                 "(mirrored images join both pools for samplers fitted on them). "
                 "Meehan C_T: the data-copying test of Meehan et al. 2020 (generated vs held-out nearest-training "
                 "distances, in k-means cells); on pixels smooth average faces also score below 0. "
                 "z radius in band: share of Mahalanobis radii inside the held-out "
                 + (f"z-points' [p1, p99] band [{band[0]:.1f}, {band[1]:.1f}]" if band else "band")
                 + "; radius KS: Kolmogorov-Smirnov distance to the held-out radii; z copy Z: the same test on z-points, "
                 "whitened by the probe's z-points (a metric fitted on either side pulls vectors towards that side), "
                 "n/a when most vectors lie off the held-out shell and for the reconstruction row (its vectors are "
                 "the probe); log p(z)/dim: held-out z-points' mean log-density per "
                 "dimension under the sampler's model (nats, ± 1.96 SE).")
    ref_values = protocol.reference_values
    if ref_values:
        parts = [f"{label} {fmt(ref_values[key])}" for key, label, fmt in REFERENCE_VALUE_CELLS
                 if ref_values.get(key) is not None]
        lines.append("Held-out real images: " + "; ".join(parts) + ".")
    for metric, reason in group_skipped(protocol.skipped).items():
        lines.append(f"Skipped {metric}: {reason}.")
    return lines


def _difference_text(name: str, found, scale: float = 1.0) -> str:
    if found.low is None:
        return f"{name} {scale * found.difference:+.1f} (no interval)"
    verdict = "significant" if found.significant else "not distinguishable"
    return f"{name} {scale * found.difference:+.1f} [{scale * found.low:+.1f}, {scale * found.high:+.1f}]: {verdict}"


def comparison_lines(rows, differences) -> list[str]:
    """Rows ranked by FID with the paired difference to the next one (and KID's, FID∞'s), and the FID∞ table.

    rows: :class:`EvalRow` (or their dicts); differences: :class:`PairedDifferences` (or its dict).
    """
    rows, differences = as_rows(rows), PairedDifferences.from_dict(differences)
    ranked = sorted((r for r in rows if r.fid is not None and r.against_heldout), key=lambda r: r.fid.estimate)
    lines = []
    if len(ranked) > 1 and differences.by_metric.get("fid"):
        lines += ["", "Ranking by FID at N, each row against the next (paired differences, 95% intervals; significant "
                      "when the interval excludes 0), with KID×10³ (unbiased) and FID∞ where computed:", ""]
        for better, worse in zip(ranked, ranked[1:]):
            a, b = better.label, worse.label
            fid = differences.between("fid", a, b)
            if fid is None:
                continue
            parts = [_difference_text("FID", fid)]
            kid = differences.between("kid", a, b)
            if kid is not None:
                parts.append(_difference_text("KID×10³", kid, 1e3))
            fid_inf = differences.between("fid_inf", a, b)
            if fid_inf is not None:
                parts.append(_difference_text("FID∞", fid_inf))
            lines.append(f"- `{a}` − `{b}`: " + "; ".join(parts))
    inf_rows = [r for r in rows if r.fid_inf is not None]
    if inf_rows:
        largest = max(max(r.details["fid_inf_fit"]["n"]) for r in inf_rows)
        lines += ["", "FID∞ (Chong & Forsyth 2020: FID_n of both sets subsampled to n at positions shared by every "
                      "row, extrapolated to 1/n = 0; [95%]: " + (inf_rows[0].fid_inf.label or "t interval")
                  + ("; every n is below 2,048, the Inception features' dimension, where the covariances are rank-deficient: "
                     "the extrapolation is a model, not a measurement" if largest < 2048 else "") + "):", "",
                  "| method | FID∞ [95%] | n used | FID at the largest n |", "|---|---|---|---|"]
        for r in inf_rows:
            fit = r.details["fid_inf_fit"]
            lines.append(f"| `{r.label}` | {interval_text(r.fid_inf, 1)} | {min(fit['n'])}–{max(fit['n'])} | "
                         f"{np.mean([v for n, v in zip(fit['n'], fit['fid_n']) if n == max(fit['n'])]):.1f} |")
    return lines


def group_skipped(skipped: dict[str, str]) -> dict[str, str]:
    """Metrics skipped for the same reason, joined: {'fid, kid': reason}."""
    by_reason: dict[str, list[str]] = {}
    for metric, reason in skipped.items():
        by_reason.setdefault(reason, []).append(metric)
    return {", ".join(metrics): reason for reason, metrics in by_reason.items()}


def markdown_table(rows, protocol: EvalProtocol | dict, leading: list[tuple[str, callable]] | None = None,
                   title: str | None = None, with_caption: bool = True, differences=None) -> str:
    """A markdown document: title, caption lines, one table row per result row, then notes.

    rows: :class:`EvalRow` (or their dicts); protocol: an :class:`EvalProtocol` (or its dict);
    leading: (header, row -> cell) columns before :data:`~aegen.evaluate.protocol.rows.COLUMNS` (default:
    the row's label, which names its parameters as the ranking below does).
    """
    rows, protocol = as_rows(rows), EvalProtocol.from_dict(protocol)
    leading = leading or [("method", lambda r: f"`{r.label}`")]
    headers = [header for header, _ in leading] + [column.title(protocol) for column in COLUMNS]
    cells = [cell for _, cell in leading] + [column.cell for column in COLUMNS]
    lines = [f"# {title}", ""] if title else []
    if with_caption:
        lines += caption(protocol) + [""]
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    notes = []
    for row in rows:
        lines.append("| " + " | ".join(cell(row) for cell in cells) + " |")
        if row.error:
            notes.append(f"- `{row.method}`: error: {row.error}")
        if row.kind == "sampler":
            notes += [f"- `{row.method}`: {note}" for note in row.notes]
    if differences:
        lines += comparison_lines(rows, differences)
    if notes:
        lines += ["", "Notes:"] + notes
    return "\n".join(lines) + "\n"
