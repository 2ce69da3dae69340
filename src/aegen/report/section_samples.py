"""The sampler gallery: one face grid per method side by side, then the seed's ellipse figures."""

from __future__ import annotations

from pathlib import Path

from aegen.report.blocks import FIGURE_CARD, Details, Figure, Gallery, Heading, Section, Text
from aegen.report.sources import dig, num, plain, pngs, read_json_if_present

SAMPLES_DIR = "samples"
GRID = "grid.png"
PARAMS = "params.json"
EVAL_GRIDS = Path("eval") / "samples"
# The series' order: the failed uniform trial first, the seed's ellipse generator, then the fitted densities.
METHOD_ORDER = ("uniform", "diag-gaussian", "ellipse-pca", "gaussian", "truncated-gaussian", "gmm")
SEED_METHOD = "ellipse-pca"
ELLIPSE_FIGURES = {
    "pca_plane": "in the plane of the first two PCA components, with the seed's sigma ellipse",
    "pca_pairs": "in pairs of leading PCA components, with sigma ellipses",
    "latent_pairs": "in pairs of original z-components (the most correlated pairs), with sigma ellipses",
}


def method_rank(name: str) -> tuple[int, str]:
    """Sort key: the series' order for known methods, then the others by name."""
    return (METHOD_ORDER.index(name) if name in METHOD_ORDER else len(METHOD_ORDER)), name


def sample_folders(run_path: Path) -> list[tuple[Path, dict]]:
    """(folder, params.json or {}) of every RUN/samples/<name>/ that holds a grid, in the series' order."""
    root = run_path / SAMPLES_DIR
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        if folder.is_dir() and (folder / GRID).is_file():
            params = read_json_if_present(folder / PARAMS)
            found.append((folder, params if isinstance(params, dict) else {}))
    found.sort(key=lambda item: method_rank(str(item[1].get("method") or item[0].name)) + (item[0].name,))
    return found


def where_text(where) -> str:
    if not where:
        return ""
    if isinstance(where, dict):
        return ", ".join(f"{k}={v:+d}" if isinstance(v, int) else f"{k}={v}" for k, v in where.items())
    return str(where)


def card_caption(folder: Path, params: dict) -> str:
    parts = [f"N = {num(params.get('n'))} z-vectors, seed {num(params.get('seed'))}"]
    fitted = dig(params, "fit", "n_zpoints", default=dig(params, "fit", "n_points"))
    if fitted is not None:
        parts.append(f"fitted on {num(fitted)} z-points")
    if params.get("where"):
        parts.append(f"only those with {where_text(params['where'])}")
    settings = params.get("params") or {}
    if settings:
        parts.append("; ".join(f"{k} = {plain(v)}" for k, v in settings.items()))
    shown = min(64, int(params.get("n") or 64))
    return f"First {shown} decoded faces. " + "; ".join(parts) + "."


def card_title(folder: Path, params: dict) -> str:
    method = str(params.get("method") or folder.name)
    return method if method == folder.name else f"{method} ({folder.name})"


def ellipse_figures(folder: Path, params: dict) -> list[Figure]:
    method = card_title(folder, params)
    n_text = f"{num(params.get('n'))} generated"
    figures = []
    order = list(ELLIPSE_FIGURES)
    paths = sorted(pngs(folder, exclude=(GRID,)), key=lambda p: order.index(p.stem) if p.stem in order else len(order))
    for path in paths:
        where = ELLIPSE_FIGURES.get(path.stem)
        caption = (f"Generated z-vectors (orange) over the training z-points (grey) {where}; {n_text}, the number of "
                   "z-points is in the figure's title." if where else f"`{path.name}` ({n_text}).")
        figures.append(Figure(path, title=f"{method}: {path.stem.replace('_', ' ')}", caption=caption))
    return figures


def evaluation_grids(run_path: Path) -> list[Figure]:
    """Face grids the evaluation wrote (RUN/eval/samples/<method>.png), used when no sample folder exists."""
    metrics = read_json_if_present(run_path / "eval" / "metrics.json") or {}
    n_by_method = {r.get("method"): r.get("n") for r in metrics.get("rows", []) if isinstance(r, dict)}
    paths = sorted(pngs(run_path / EVAL_GRIDS), key=lambda p: method_rank(p.stem))
    return [Figure(p, title=p.stem, pixel_art=True,
                   caption=f"Faces scored by `aegen evaluate` (N = {num(n_by_method.get(p.stem))}, first 64 shown).")
            for p in paths]


def samples_section(run) -> Section:
    path = Path(run.path)
    section = Section("samples", "Sampler gallery", hint=f"`aegen sample {path} --method {SEED_METHOD}` "
                      "(and other methods) fills this section.",
                      lead="New faces decoded from z-vectors drawn by each sampler, side by side.")
    folders = sample_folders(path)
    if not folders:
        grids = evaluation_grids(path)
        if grids:
            section.blocks += [Text("No `aegen sample` output yet; these are the images the evaluation decoded."),
                               Gallery(grids)]
        return section
    section.blocks.append(Gallery([Figure(folder / GRID, title=card_title(folder, params), pixel_art=True,
                                          caption=card_caption(folder, params)) for folder, params in folders]))
    with_figures = [(folder, params, ellipse_figures(folder, params)) for folder, params in folders]
    with_figures = [item for item in with_figures if item[2]]
    if not with_figures:
        section.blocks.append(Text(f"No ellipse figures: run `aegen sample {path} --method {SEED_METHOD}` without "
                                   "`--no-figures`.", "note"))
        return section
    section.blocks.append(Heading("The seed's ellipse figures"))
    section.blocks.append(Text("Where the generated z-vectors fall relative to the training z-points: inside the "
                               "ellipses means inside the region of real faces."))
    for k, (folder, params, figures) in enumerate(with_figures):
        is_seed = str(params.get("method") or folder.name) == SEED_METHOD
        if is_seed or (k == 0 and not any(str(p.get("method")) == SEED_METHOD for _, p, _ in with_figures)):
            section.blocks.append(Gallery(figures, min_width=FIGURE_CARD))
        else:
            section.blocks.append(Details(f"Ellipse figures of {card_title(folder, params)}",
                                          [Gallery(figures, min_width=FIGURE_CARD)]))
    return section
