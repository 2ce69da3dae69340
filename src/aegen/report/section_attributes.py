"""The attribute section: clusters in latent space, conditional sampling, and edited faces."""

from __future__ import annotations

from pathlib import Path

from aegen.report.blocks import FIGURE_CARD, Details, Figure, Gallery, Heading, Section, Table, Text
from aegen.report.sources import dig, num, pct, plain, pngs, read_json_if_present

ATTR_DIR = "attributes"
EDITS_DIR = "edits"


def has_attribute_labels(run) -> bool:
    return bool(dig(run.config, "data", "attr_names")) or (Path(run.path) / "zpoints" / "attr_names.json").is_file()


def cluster_blocks(folder: Path, summary: dict) -> list:
    attrs = summary.get("attributes") or {}
    rows = []
    for name, r in attrs.items():
        sil = r.get("silhouette") or {}
        rows.append([name, pct(r.get("positive_rate")), num(r.get("centre_distance_in_spread")),
                     num(r.get("mahalanobis_distance_debiased")), two(dig(r, "probe", "balanced_accuracy")),
                     two(dig(r, "mean_direction", "balanced_accuracy")),
                     " / ".join(two(dig(sil, key, "mean")) for key in ("latent", "pca_plane", "direction_plane")),
                     str(r.get("verdict", "—"))])
    blocks: list = []
    if summary.get("answer"):
        blocks.append(Text(f"Answer: {summary['answer']}", "answer"))
    blocks.append(Table(
        ["attribute", "positive", "centre distance / spread", "Mahalanobis D", "probe bal. acc.",
         "mean-direction bal. acc.", "silhouette latent / PCA / direction", "verdict"], rows, numeric={1, 2, 3, 4, 5, 6},
        caption=f"Fitted on {num(summary.get('n_fit'))} {summary.get('fit_split', '')} z-points, scored on "
                f"{num(summary.get('n_eval'))} {summary.get('eval_split', '')} z-points (d = {num(summary.get('z_dim'))}); "
                f"silhouettes on balanced subsamples of at most {num(summary.get('silhouette_points'))} points, seed "
                f"{num(summary.get('random_state'))}. A silhouette of {num(dig(summary, 'thresholds', 'cluster_silhouette'))}"
                " or more would mean clusters; a probe's balanced accuracy near 0.5 means no linear signal."))
    definitions = summary.get("definitions") or {}
    if definitions:
        blocks.append(Details("Definitions of the columns",
                              [Table(["quantity", "definition"], [[k.replace("_", " "), str(v)]
                                                                  for k, v in definitions.items()])]))
    listed = [f for f in summary.get("figures") or [] if isinstance(f, str)]
    figures = sorted(pngs(folder), key=lambda p: listed.index(p.name) if p.name in listed else len(listed))
    n_text = f"N = {num(summary.get('n_eval'))} {summary.get('eval_split', '')} z-points"
    views = []
    for path in figures:
        if path.name == "overview.png":
            blocks.append(Figure(path, title="Attributes at a glance", caption=(
                f"Separation, probe accuracy and silhouettes of every analysed attribute. {n_text}.")))
        elif path.stem.startswith("views-"):
            name = path.stem[len("views-"):]
            views.append(Figure(path, title=f"{name} in 2-D views", caption=(
                f"Images with and without {name} in the top PCA plane and in the plane of the probe direction. "
                f"{n_text}.")))
    if views:
        blocks.append(Details(f"2-D views of {len(views)} attribute(s)", [Gallery(views, min_width=FIGURE_CARD)]))
    return blocks


def two(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def conditional_blocks(folder: Path, result: dict) -> list:
    attrs = result.get("attributes") or {}
    rows = [[name, pct(r.get("real_positive_rate")), pct(r.get("unconditional_positive_rate")),
             pct(r.get("positive_share_when_requested")), pct(r.get("negative_share_when_requested")),
             two(r.get("classifier_accuracy")), "yes" if r.get("meets_target") else "no"] for name, r in attrs.items()]
    target = result.get("target") or {}
    blocks: list = [Heading("Conditional sampling"), Table(
        ["attribute", "real images with it", "unconditional samples with it", "with it when asked (=1)",
         "without it when asked (=-1)", "classifier accuracy", "meets target"], rows, numeric={1, 2, 3, 4, 5},
        caption=f"`{result.get('method', '?')}` samples ({num(result.get('n_per_condition'))} per condition, seed "
                f"{num(result.get('random_state'))}) fitted on the z-points with or without each attribute, judged by "
                f"an attribute classifier trained on the real images. Target: at least "
                f"{pct(target.get('share'), 0)} of the asked-for value, with a classifier at least "
                f"{pct(target.get('classifier_accuracy'), 0)} accurate.")]
    joint = [c for c in result.get("conditions") or [] if isinstance(c, dict) and len(c.get("where") or {}) > 1]
    if joint:
        blocks.append(Table(["condition", "z-points fitted", "samples", "all asked-for values"],
                            [[str(c.get("name")), num(c.get("n_fit_zpoints")), num(c.get("n_samples")),
                              pct(c.get("all_requested_share"))] for c in joint], numeric={1, 2, 3}))
    if result.get("figure") and (folder / str(result["figure"])).is_file():
        blocks.append(Figure(folder / str(result["figure"]), title="Conditional sampling rated", caption=(
            f"Share of samples carrying each attribute when it is asked for, not asked for, or asked to be absent; "
            f"N = {num(result.get('n_per_condition'))} samples per condition.")))
    grids = []
    for condition in result.get("conditions") or []:
        grid = folder / str(condition.get("grid", "")) if isinstance(condition, dict) else None
        if grid and condition.get("grid") and grid.is_file():
            grids.append(Figure(grid, title=str(condition.get("name")), pixel_art=True, caption=(
                f"N = {num(condition.get('n_samples'))} samples, fitted on {num(condition.get('n_fit_zpoints'))} "
                "z-points.")))
    if grids:
        blocks.append(Details(f"Faces of the {len(grids)} conditions", [Gallery(grids, min_width=220)]))
    return blocks


def edit_figures(folder: Path) -> list[Figure]:
    figures = []
    for path in pngs(folder):
        meta = read_json_if_present(path.with_suffix(".json")) or {}
        strengths = meta.get("strengths") or []
        caption = (f"Real faces moved along the {meta.get('attr', '?')} direction ({dig(meta, 'direction', 'method', default='?')}"
                   f" of the classes); columns: {', '.join(str(c) for c in meta.get('columns') or []) or 'see the file'}; "
                   f"strength unit: {meta.get('unit', '?')}"
                   + (f" ({num(meta.get('step_latent_units'))} latent units)" if meta.get("step_latent_units") else "")
                   + f"; {len(meta.get('ids') or [])} image(s): {', '.join(str(i) for i in meta.get('ids') or [])}."
                   if meta else f"`{path.name}`.")
        title = f"Edit along {meta['attr']}" if meta.get("attr") else path.stem
        if strengths:
            title += f" (strengths {plain(strengths)})"
        figures.append(Figure(path, title=title, caption=caption, pixel_art=True))
    return figures


def attributes_section(run) -> Section:
    path = Path(run.path)
    section = Section("attributes", "Attributes", lead="Do attributes such as smiling or hair colour form clusters "
                      "in latent space, and can samplers be steered by them?",
                      hint=f"`aegen attributes {path}` fills this section.")
    if not has_attribute_labels(run):
        section.hint = "The data of this run has no attribute labels, so there is nothing to analyse."
        return section
    folder = path / ATTR_DIR
    summary = read_json_if_present(folder / "summary.json")
    conditional = read_json_if_present(folder / "conditional.json")
    edits = edit_figures(path / EDITS_DIR)
    if not (isinstance(summary, dict) or isinstance(conditional, dict) or edits):
        return section
    if isinstance(summary, dict):
        section.blocks += [Heading("Clusters in latent space")] + cluster_blocks(folder, summary)
    else:
        section.blocks.append(Text(f"No cluster analysis: `aegen attributes {path}` adds it.", "note"))
    if isinstance(conditional, dict):
        section.blocks += conditional_blocks(folder, conditional)
    else:
        section.blocks.append(Text(f"No conditional sampling rated: `aegen attributes {path} --rate` adds it.", "note"))
    if edits:
        section.blocks += [Heading("Edited faces")] + edits
    else:
        section.blocks.append(Text(f"No edited faces: `aegen edit {path} --image ID --attr Smiling` adds them.", "note"))
    return section
