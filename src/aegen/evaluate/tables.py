"""Markdown tables of evaluation rows, with the protocol stated above them."""

from __future__ import annotations


def _number(value, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _percent(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _kid(row: dict) -> str:
    if row.get("kid") is None:
        return "–"
    return f"{1e3 * row['kid']:.2f} ± {1e3 * (row.get('kid_std') or 0.0):.2f}"


def feature_label(protocol: dict) -> str:
    """'Inception' or a warning label such as 'pixels 16x16 (not Inception)'."""
    features = protocol.get("features")
    if not features:
        return "none"
    return "Inception" if features["id"].startswith("inception") else features["id"]


def metric_columns(protocol: dict) -> list[tuple[str, callable]]:
    """(header, row -> cell) for the metric columns of every table."""
    label = feature_label(protocol)
    suffix = "" if label == "Inception" else f" [{label}]"
    return [
        (f"FID{suffix} (vs {protocol['reference']['n']})", lambda r: _number(r.get("fid"), 1)),
        (f"KID×10³{suffix}", _kid),
        ("precision", lambda r: _number(r.get("precision"), 3)),
        ("recall", lambda r: _number(r.get("recall"), 3)),
        ("density", lambda r: _number(r.get("density"), 3)),
        ("coverage", lambda r: _number(r.get("coverage"), 3)),
        ("faces", lambda r: _percent(r.get("face_rate"))),
        ("NN-train median", lambda r: _number(r.get("nn_train_median"), 3)),
        ("< held-out p1", lambda r: _percent(r.get("share_closer_than_heldout_p1"))),
        ("in 2σ", lambda r: _percent(r.get("latent_inside_2sigma"))),
        ("in 3σ", lambda r: _percent(r.get("latent_inside_3sigma"))),
        ("radius median", lambda r: _number(r.get("latent_radius_median"), 1)),
    ]


REFERENCE_VALUE_CELLS = [
    ("face_rate", "faces", _percent),
    ("nn_train_median", "NN-train median", lambda v: _number(v, 3)),
    ("latent_inside_2sigma", "in 2σ", _percent),
    ("latent_inside_3sigma", "in 3σ", _percent),
    ("latent_radius_median", "radius median", lambda v: _number(v, 1)),
]


def caption(protocol: dict) -> list[str]:
    """Lines stating N, the features, the reference values and anything skipped."""
    ref = protocol["reference"]
    label = feature_label(protocol)
    lines = [f"N = {protocol['n']} generated images per row, against {ref['n']} held-out images "
             f"(row `real`: the held-out images against {ref['n_train_reference']} training images). "
             f"Image size {protocol['image_size']} px, seed {protocol['seed']}."]
    if label == "Inception":
        lines.append(f"FID, KID, precision/recall (k = {protocol['precision_recall']['k']}) and density/coverage "
                     f"(k = {protocol['density_coverage']['k']}) on Inception-v3 features. FID is biased upward at "
                     f"N = {protocol['n']} (published FIDs use 10,000 or more); KID is unbiased.")
    elif label != "none":
        lines.append(f"**Features: {protocol['features']['name']}.** These FID/KID/precision/recall values measure "
                     "pixel statistics and are not comparable with published (Inception) values.")
    radii = protocol["latent_check"]["ellipsoid_radii"]
    lines.append("NN-train: RMS distance of each image to its nearest training image on downsampled pixels; "
                 "`< held-out p1`: share closer than the 1st percentile of held-out images' distances. "
                 f"in 2σ / 3σ: share of z inside the training z-points' ellipsoids (Mahalanobis radii "
                 f"{radii['2sigma']:.1f} and {radii['3sigma']:.1f}).")
    ref_values = protocol.get("reference_values") or {}
    if ref_values:
        parts = [f"{label} {fmt(ref_values[key])}" for key, label, fmt in REFERENCE_VALUE_CELLS
                 if ref_values.get(key) is not None]
        lines.append("Held-out real images: " + "; ".join(parts) + ".")
    for metric, reason in group_skipped(protocol.get("skipped", {})).items():
        lines.append(f"Skipped {metric}: {reason}.")
    return lines


def group_skipped(skipped: dict[str, str]) -> dict[str, str]:
    """Metrics skipped for the same reason, joined: {'fid, kid': reason}."""
    by_reason: dict[str, list[str]] = {}
    for metric, reason in skipped.items():
        by_reason.setdefault(reason, []).append(metric)
    return {", ".join(metrics): reason for reason, metrics in by_reason.items()}


def markdown_table(rows: list[dict], protocol: dict, leading: list[tuple[str, callable]] | None = None,
                   title: str | None = None, with_caption: bool = True) -> str:
    """A markdown document: title, caption lines, one table row per result row, then notes."""
    leading = leading or [("method", lambda r: f"`{r['method']}`"), ("N", lambda r: str(r.get("n", "–")))]
    columns = leading + metric_columns(protocol)
    lines = [f"# {title}", ""] if title else []
    if with_caption:
        lines += caption(protocol) + [""]
    lines.append("| " + " | ".join(header for header, _ in columns) + " |")
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    notes = []
    for row in rows:
        lines.append("| " + " | ".join(cell(row) for _, cell in columns) + " |")
        if row.get("error"):
            notes.append(f"- `{row['method']}`: error: {row['error']}")
        for note in row.get("notes", []):
            if row.get("kind") == "sampler" or "flatters" in note:
                notes.append(f"- `{row['method']}`: {note}")
    if notes:
        lines += ["", "Notes:"] + notes
    return "\n".join(lines) + "\n"
