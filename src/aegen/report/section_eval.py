"""The evaluation section: the metrics table (reference rows highlighted), its figures and the sweeps."""

from __future__ import annotations

from pathlib import Path

from aegen.report.blocks import FIGURE_CARD, Details, Figure, Gallery, Heading, Items, Section, Table, Text
from aegen.report.sources import dig, num, pct, plain, pngs, read_json_if_present

EVAL_DIR = "eval"
METRICS = "metrics.json"
SWEEPS_DIR = "sweeps"
REFERENCE_ROWS = ("reconstruction", "real")
EVAL_FIGURES = {
    "metrics": ("Metrics per method", "Each metric per method, the reference rows drawn for comparison."),
    "latent_radii": ("Where the samples fall in latent space",
                     "Mahalanobis radii of the generated z-vectors against those of held-out z-points, with the "
                     "2-sigma and 3-sigma ellipsoids of the training z-points."),
    "memorisation": ("Memorisation check",
                     "Distance of each generated image to its nearest training image, against the same distance "
                     "for held-out images: samples much closer than held-out images would be copies."),
}


def kid_text(row: dict) -> str:
    if row.get("kid") is None:
        return "—"
    return f"{1e3 * row['kid']:.2f} ± {1e3 * (row.get('kid_std') or 0.0):.2f}"


def two(value) -> str:
    return "—" if value is None else f"{value:.3f}"


# (header, row -> cell); arrows say which direction is better.
DISTRIBUTION_COLUMNS = [
    ("N", lambda r: num(r.get("n"))),
    ("FID ↓", lambda r: "—" if r.get("fid") is None else f"{r['fid']:.1f}"),
    ("KID×10³ ↓", kid_text),
    ("precision ↑", lambda r: two(r.get("precision"))),
    ("recall ↑", lambda r: two(r.get("recall"))),
    ("density ↑", lambda r: two(r.get("density"))),
    ("coverage ↑", lambda r: two(r.get("coverage"))),
    ("faces ↑", lambda r: pct(r.get("face_rate"))),
]
CHECK_COLUMNS = [
    ("NN-train median", lambda r: two(r.get("nn_train_median"))),
    ("closer than held-out p1", lambda r: pct(r.get("share_closer_than_heldout_p1"))),
    ("inside 2σ", lambda r: pct(r.get("latent_inside_2sigma"))),
    ("inside 3σ", lambda r: pct(r.get("latent_inside_3sigma"))),
    ("radius median", lambda r: num(r.get("latent_radius_median"))),
]
CHECKS_CAPTION = ("Memorisation and latent checks. NN-train: RMS distance of each image to its nearest training image "
                  "(downsampled pixels); 'closer than held-out p1': share of images closer to a training image than "
                  "99% of held-out images are (copies). Inside 2σ / 3σ: share of z-vectors inside the training "
                  "z-points' ellipsoids; radius: median Mahalanobis radius.")


def features_label(protocol: dict) -> str:
    features = protocol.get("features") or {}
    name = features.get("name") or features.get("id")
    return str(name) if name else "none (skipped)"


def method_cell(row: dict, with_params: bool = True) -> str:
    text = f"`{row.get('method', '?')}`"
    if with_params and row.get("params"):
        text += " " + ", ".join(f"{k}={plain(v)}" for k, v in row["params"].items())
    return text


def metrics_table(rows: list[dict], leading: list[tuple[str, callable]] | None = None, caption: str = "",
                  columns=DISTRIBUTION_COLUMNS) -> Table:
    """One line per row; rows named 'reconstruction' or 'real' highlighted as the references."""
    leading = leading or [("method", method_cell)]
    headers = [h for h, _ in leading] + [h for h, _ in columns]
    cells, highlight, notes = [], set(), {}
    for k, row in enumerate(rows):
        cells.append([fn(row) for _, fn in leading] + [fn(row) for _, fn in columns])
        if row.get("method") in REFERENCE_ROWS or row.get("kind") == "reference":
            highlight.add(k)
            notes[k] = "reference row"
        if row.get("error"):
            notes[k] = f"error: {row['error']}"
    numeric = set(range(len(leading), len(headers)))
    return Table(headers, cells, caption=caption, highlight=highlight, numeric=numeric, row_notes=notes)


def protocol_caption(protocol: dict) -> str:
    ref = protocol.get("reference") or {}
    parts = [f"N = {num(protocol.get('n'))} generated images per method against {num(ref.get('n'))} held-out images "
             f"(the `real` row: held-out images against {num(ref.get('n_train_reference'))} training images); "
             f"image size {num(protocol.get('image_size'))} px, seed {num(protocol.get('seed'))}.",
             f"Features: {features_label(protocol)}; precision/recall k = {num(dig(protocol, 'precision_recall', 'k'))}, "
             f"density/coverage k = {num(dig(protocol, 'density_coverage', 'k'))}."]
    if dig(protocol, "fid", "note"):
        parts.append(str(protocol["fid"]["note"]) + ".")
    parts.append("Highlighted: the reference rows, `reconstruction` (held-out images through the autoencoder, the "
                 "best a sampler can do with this decoder) and `real` (held-out images themselves).")
    return " ".join(parts)


def row_messages(rows: list[dict], protocol: dict) -> list[str]:
    messages = [f"`{r.get('method')}`: error: {r['error']}" for r in rows if r.get("error")]
    messages += [f"`{r.get('method')}`: {note}" for r in rows for note in (r.get("notes") or [])]
    by_reason: dict[str, list[str]] = {}
    for metric, reason in (protocol.get("skipped") or {}).items():
        by_reason.setdefault(str(reason), []).append(str(metric))
    messages += [f"skipped {', '.join(metrics)}: {reason}" for reason, metrics in by_reason.items()]
    return messages


def eval_figures(folder: Path, protocol: dict) -> list[Figure]:
    n_text = f"N = {num(protocol.get('n'))} per method, {num(dig(protocol, 'reference', 'n'))} held-out."
    figures = []
    order = list(EVAL_FIGURES)
    for path in sorted(pngs(folder), key=lambda p: order.index(p.stem) if p.stem in order else len(order)):
        title, caption = EVAL_FIGURES.get(path.stem, (path.stem.replace("_", " ").capitalize(), f"`{path.name}`."))
        figures.append(Figure(path, title=title, caption=f"{caption} {n_text}"))
    return figures


def sweep_blocks(folder: Path) -> list:
    result = read_json_if_present(folder / METRICS)
    if not isinstance(result, dict):
        return []
    protocol = result.get("protocol") or {}
    grid = result.get("grid") or {}
    method = result.get("method", folder.name)
    leading = [(name, (lambda r, name=name: plain(dig(r, "params", name)))) for name in grid]
    rows = list(result.get("rows") or [])
    baselines = list(result.get("baselines") or [])
    table = metrics_table(rows + baselines, leading=[("method", lambda r: method_cell(r, False))] + leading,
                          caption=f"Every setting of {', '.join(grid) or 'the grid'} at N = {num(protocol.get('n'))} "
                                  f"(seed {num(protocol.get('seed'))}, features {features_label(protocol)}); "
                                  "baselines in default parameters below the sweep, reference rows highlighted.")
    blocks = [Heading(f"Sweep of {method} over {', '.join(grid)}"), table]
    best = result.get("best") or {}
    if best:
        blocks.append(Items([f"best {key}: " + ", ".join(f"{k} = {plain(v)}" for k, v in (b.get("params") or {}).items())
                             + f" ({num(b.get('value'), 4)})" for key, b in best.items()]))
    messages = row_messages(rows + baselines, protocol)
    if messages:
        blocks.append(Items(messages))
    plots = [Figure(path, title=f"{method}: metrics against {path.stem}", caption=(
        f"FID, KID with its spread, precision and recall at each value of {path.stem}; baselines as horizontal "
        f"lines. N = {num(protocol.get('n'))} generated images per point.")) for path in pngs(folder)]
    if plots:
        blocks.append(Gallery(plots, min_width=FIGURE_CARD))
    return blocks


def eval_section(run) -> Section:
    path = Path(run.path)
    folder = path / EVAL_DIR
    section = Section("evaluation", "Evaluation", hint=f"`aegen evaluate {path}` fills this section.",
                      lead="How close the generated faces come to real ones, next to the two reference rows.")
    result = read_json_if_present(folder / METRICS)
    sweeps = sorted(p for p in (folder / SWEEPS_DIR).glob("*") if p.is_dir()) if (folder / SWEEPS_DIR).is_dir() else []
    if isinstance(result, dict):
        protocol = result.get("protocol") or {}
        rows = [r for r in result.get("rows") or [] if isinstance(r, dict)]
        section.blocks.append(metrics_table(rows, caption=protocol_caption(protocol)))
        section.blocks.append(metrics_table(rows, caption=CHECKS_CAPTION, columns=CHECK_COLUMNS))
        messages = row_messages(rows, protocol)
        if messages:
            section.blocks.append(Items(messages))
        figures = eval_figures(folder, protocol)
        if figures:
            section.blocks.append(Gallery(figures, min_width=FIGURE_CARD))
        grids = [Figure(p, title=p.stem, pixel_art=True, caption="First 64 images scored in this row.")
                 for p in pngs(folder / "samples")]
        if grids:
            section.blocks.append(Details(f"The {len(grids)} image sets scored", [Gallery(grids, min_width=260)]))
    sweep_parts = [block for sweep in sweeps for block in sweep_blocks(sweep)]
    if sweep_parts:
        section.blocks.extend(sweep_parts)
    elif section.blocks:
        section.blocks.append(Text(f"No parameter sweeps: `aegen sweep {path} --method ellipse-pca --param "
                                   "fact=0.5:0.9:0.1` adds one.", "note"))
    return section
