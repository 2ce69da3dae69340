"""The evaluation section: the metrics table (reference rows highlighted), its figures and the sweeps."""

from __future__ import annotations

from pathlib import Path

from aegen.evaluate.protocol.record import EvalProtocol
from aegen.evaluate.protocol.rows import CHECKS, DISTRIBUTION, EvalResult, EvalRow, as_rows, columns, interval_text
from aegen.evaluate.tables import caption as table_caption
from aegen.evaluate.tables import comparison_lines
from aegen.report.blocks import FIGURE_CARD, Details, Figure, Gallery, Heading, Items, Section, Table, Text
from aegen.report.sources import num, plain, pngs, read_json_if_present

EVAL_DIR = "eval"
METRICS = "metrics.json"
SWEEPS_DIR = "sweeps"
REFERENCE_ROWS = ("reconstruction", "real")
EVAL_FIGURES = {
    "metrics": ("Metrics per method", "Each metric per method, the reference rows drawn for comparison."),
    "latent_radii": ("Where the samples fall in latent space",
                     "Mahalanobis radii of the generated z-vectors against those of held-out z-points, with the "
                     "held-out radii's [p1, p99] band: the z-points lie on a shell, so vectors too near the centre "
                     "are as foreign to the decoder as vectors too far out."),
    "memorisation": ("Memorisation check",
                     "Distance of each generated image to its nearest training image, against the same distance "
                     "for held-out images; the copy Z column turns this into a test that blur cannot fail."),
}


def features_label(protocol: EvalProtocol) -> str:
    features = protocol.features or {}
    name = features.get("name") or features.get("id")
    return str(name) if name else "none (skipped)"


def method_cell(row: EvalRow, with_params: bool = True) -> str:
    text = f"`{row.method}`"
    if with_params and row.params:
        text += " " + ", ".join(f"{k}={plain(v)}" for k, v in row.params.items())
    return text


def metrics_table(rows: list[EvalRow], protocol: EvalProtocol | dict, leading: list[tuple[str, callable]] | None = None,
                  caption: str = "", group: str = DISTRIBUTION) -> Table:
    """One line per row, the columns of one group of :data:`aegen.evaluate.protocol.rows.COLUMNS`; rows named
    'reconstruction' or 'real' highlighted as the references. protocol: an :class:`EvalProtocol` (or its dict)."""
    protocol = EvalProtocol.from_dict(protocol)
    leading = leading or [("method", method_cell)]
    shown = columns(group)
    headers = [h for h, _ in leading] + [c.title(protocol, arrows=True) for c in shown]
    cells, highlight, notes = [], set(), {}
    for k, row in enumerate(rows):
        cells.append([fn(row) for _, fn in leading] + [c.cell(row) for c in shown])
        if row.method in REFERENCE_ROWS or row.kind == "reference":
            highlight.add(k)
            notes[k] = "reference row"
        if row.error:
            notes[k] = f"error: {row.error}"
    numeric = set(range(len(leading), len(headers)))
    return Table(headers, cells, caption=caption, highlight=highlight, numeric=numeric, row_notes=notes)


def _caption_lines(protocol: EvalProtocol) -> list[str]:
    """The evaluation's own caption lines (aegen.evaluate.tables), or none for an older metrics.json."""
    try:
        return table_caption(protocol)
    except (KeyError, TypeError, AttributeError):
        return []


def protocol_caption(protocol: EvalProtocol) -> str:
    lines = _caption_lines(protocol)
    parts = [line for line in lines[:3]] if lines else [
        f"N = {num(protocol.n)} generated images per method; features {features_label(protocol)}."]
    parts.append("Highlighted: the reference rows, `reconstruction` (held-out images through the autoencoder, the "
                 "best a sampler can do with this decoder) and `real` (held-out images themselves).")
    return " ".join(parts)


def checks_caption(protocol: EvalProtocol) -> str:
    lines = _caption_lines(protocol)
    return "Memorisation and latent checks. " + " ".join(lines[3:4]) if len(lines) > 3 else "Memorisation and latent checks."


def row_messages(rows: list[EvalRow], protocol: EvalProtocol) -> list[str]:
    messages = [f"`{r.method}`: error: {r.error}" for r in rows if r.error]
    messages += [f"`{r.method}`: {note}" for r in rows for note in r.notes]
    by_reason: dict[str, list[str]] = {}
    for metric, reason in protocol.skipped.items():
        by_reason.setdefault(str(reason), []).append(str(metric))
    messages += [f"skipped {', '.join(metrics)}: {reason}" for reason, metrics in by_reason.items()]
    return messages


def eval_figures(folder: Path, protocol: EvalProtocol) -> list[Figure]:
    reference_n = None if protocol.reference is None else protocol.reference.n
    n_text = f"N = {num(protocol.n)} per method, {num(reference_n)} held-out."
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
    protocol = EvalProtocol.from_dict(result.get("protocol"))
    grid = result.get("grid") or {}
    method = result.get("method", folder.name)
    leading = [(name, (lambda r, name=name: plain(r.params.get(name)))) for name in grid]
    rows = as_rows(result.get("rows"))
    baselines = as_rows(result.get("baselines"))
    table = metrics_table(rows + baselines, protocol, leading=[("method", lambda r: method_cell(r, False))] + leading,
                          caption=f"Every setting of {', '.join(grid) or 'the grid'} at N = {num(protocol.n)} "
                                  f"(seed {num(protocol.seed)}, features {features_label(protocol)}); "
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
        f"FID and KID with their 95% intervals, precision and recall at each value of {path.stem}; baselines as horizontal "
        f"lines. N = {num(protocol.n)} generated images per point.")) for path in pngs(folder)]
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
        evaluation = EvalResult.from_dict(result)
        protocol, rows = evaluation.protocol, evaluation.rows
        section.blocks.append(metrics_table(rows, protocol, caption=protocol_caption(protocol)))
        section.blocks.append(metrics_table(rows, protocol, caption=checks_caption(protocol), group=CHECKS))
        comparisons = [line[2:] for line in comparison_lines(rows, evaluation.differences) if line.startswith("- ")]
        if comparisons:
            section.blocks.append(Text("Which rows differ: each row against the next in the FID ranking, the paired "
                                       "difference with its 95% interval (significant when it excludes 0).", "note"))
            section.blocks.append(Items(comparisons))
        inf_rows = [r for r in rows if r.fid_inf is not None]
        if inf_rows:
            section.blocks.append(Table(["method", "FID∞ [95%]", "n used"], [
                [method_cell(r), interval_text(r.fid_inf, 1), "–".join(str(v) for v in (
                    min(r.details["fid_inf_fit"]["n"]), max(r.details["fid_inf_fit"]["n"])))] for r in inf_rows],
                caption="FID∞ (Chong & Forsyth 2020): FID_n with both sets subsampled to n, extrapolated "
                        "linearly in 1/n to n = ∞; the interval is that of the fit's intercept.", numeric={1}))
        messages = row_messages(rows, protocol)
        if messages:
            section.blocks.append(Items(messages))
        figures = eval_figures(folder, protocol)
        if figures:
            section.blocks.append(Gallery(figures, min_width=FIGURE_CARD))
        else:
            section.blocks.append(Text("No figures or sample grids: this evaluation wrote its numbers only "
                                       "(`aegen evaluate` draws them unless given --no-figures).", "note"))
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
