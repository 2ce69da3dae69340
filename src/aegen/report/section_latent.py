"""The latent-analysis section: headline numbers from RUN/analysis/summary.json, its figures, all numbers."""

from __future__ import annotations

from pathlib import Path

from aegen.report.blocks import FIGURE_CARD, Details, Figure, Gallery, Items, Section, Table, Text
from aegen.report.sources import dig, flatten, num, pct, pngs, pval, read_json_if_present

ANALYSIS_DIR = "analysis"
SUMMARY = "summary.json"

# What each figure of ``aegen analyze`` shows, by its key in summary["figures"].
FIGURE_CAPTIONS = {
    "component_histograms": ("Per-component distributions",
                             "Histograms of single z-components with the normal of the same mean and width: each "
                             "component is Gaussian-like with its own centre and width."),
    "component_moments": ("Centres and widths of all components",
                          "Mean, standard deviation, skewness and excess kurtosis of every component."),
    "location": ("Where the cloud sits",
                 "Radii of the z-points, their distances from the cloud's centre, and where the origin lies in "
                 "Euclidean and Mahalanobis terms: an off-centre cloud has the origin near or beyond its border."),
    "correlation": ("Correlations between components", "The correlation matrix of the z-components."),
    "pca_variance": ("PCA spectrum", "Variance of each principal component and the cumulative share of variance."),
    "pca_fwhm": ("Widths in PCA coordinates",
                 "Full width at half maximum of each PCA component measured on a histogram against 2.3548 std, and "
                 "where the histogram measurement breaks down."),
    "mahalanobis_qq": ("Multivariate normality",
                       "Squared Mahalanobis radii against the chi-square quantiles expected for a normal cloud."),
    "component_normality": ("Shapiro-Wilk per component",
                            "p-values of the Shapiro-Wilk test per component, on all points and on the core."),
}
PAIR_CAPTION = ("2-D densities of a component pair with sigma ellipses and fitted contours, in the original "
                "coordinates and in PCA coordinates.")


def headline_rows(s: dict) -> list[list[str]]:
    """[quantity, value, what it says] for the numbers a reader looks for first."""
    loc, pca, norm = s.get("location") or {}, s.get("pca") or {}, s.get("normality") or {}
    corr, shapiro = s.get("correlation") or {}, s.get("component_normality") or {}
    tests = dig(norm, "tests", default={})
    rows = []

    def add(quantity: str, value: str, meaning: str) -> None:
        if value and not value.startswith("—"):
            rows.append([quantity, value, meaning])

    add("Points analysed", f"{num(s.get('n_points'))} of {num(s.get('n_points_total'))}, d = {num(s.get('dim'))}",
        "z-points in the analysis (a seeded subsample when fewer than all)")
    add("Centre distance vs spread", f"{num(loc.get('centre_norm_over_rms_spread'))} "
        f"(|centre| {num(loc.get('centre_norm'))}, RMS spread {num(loc.get('rms_spread'))})" if loc else "",
        "distance of the cloud's centre from the origin in units of its RMS spread; well above 0: off-centre")
    add("Component offsets", f"median {num(dig(loc, 'component_offset_in_std', 'median'))} std; "
        f"{pct(dig(loc, 'component_offset_in_std', 'fraction_above_1'))} above 1 std"
        if dig(loc, "component_offset_in_std") else "", "|mean| / std of each component: how far each axis is off 0")
    origin = dig(loc, "origin", default={})
    add("The origin seen from the cloud", f"Mahalanobis radius {num(origin.get('mahalanobis_radius'))} "
        f"(a {num(origin.get('sigma_level'))}-sigma level); {pct(origin.get('fraction_points_closer_mahalanobis'))} "
        "of the points are closer to the centre" if origin else "",
        "the origin lies at or beyond the cloud's border when nearly all points are closer")
    add("Correlations", f"mean |r| {num(corr.get('mean_abs_r'))}, max |r| {num(corr.get('max_abs_r'))}; "
        f"{pct(dig(corr, 'fraction_abs_r_above', '0.3'))} of {num(corr.get('n_pairs'))} pairs with |r| > 0.3"
        if corr else "", "linear correlations between components")
    dim = s.get("dim")
    add("PCA components for 90% / 99% of the variance",
        f"{num(pca.get('n_components_90'))} / {num(pca.get('n_components_99'))} of {num(dim)}" if pca else "",
        "how many principal axes the cloud really uses")
    ratio = dig(pca, "explained_variance_ratio", 0)
    add("Share of the first principal component", pct(ratio) if ratio is not None else "",
        "a single dominant axis means an elongated ellipsoid")
    add("FWHM histogram measurement valid up to", f"component {num(dig(pca, 'fwhm', 'breakdown_from_component'))}"
        if dig(pca, "fwhm", "breakdown_from_component") is not None else "",
        "beyond it the components are narrower than a few histogram bins")
    for entry in norm.get("fraction_beyond") or []:
        add(f"Beyond the {num(entry.get('sigma'))}-sigma ellipsoid",
            f"{pct(entry.get('fraction_beyond'))} (normal: {pct(entry.get('expected'))})",
            "share of points outside the ellipsoid that holds a normal's mass of ±sigma")
    core = norm.get("core") or {}
    add(f"{num(core.get('sigma'))}-sigma core", f"{pct(core.get('fraction'))} of the points "
        f"(N = {num(core.get('n_points'))})" if core else "", "the dense core the normality tests are repeated on")
    for key, text in (("henze_zirkler", "Henze-Zirkler p (all / core)"),
                      ("henze_zirkler_leading_pca", "Henze-Zirkler p, leading PCA components (all / core)"),
                      ("mardia_skewness", "Mardia skewness p (all / core)"),
                      ("mardia_kurtosis", "Mardia kurtosis p (all / core)")):
        all_p, core_p = dig(tests, "all", key, "p_value"), dig(tests, "core", key, "p_value")
        if all_p is not None or core_p is not None:
            n_all, n_core = dig(tests, "all", key, "n"), dig(tests, "core", key, "n")
            add(text, f"{pval(all_p)} (N = {num(n_all)}) / {pval(core_p)} (N = {num(n_core)})",
                "multivariate normality: p < 0.01 rejects a normal cloud")
    if shapiro:
        alpha = shapiro.get("alpha")
        add(f"Shapiro-Wilk: components with p < {num(alpha)} (all / core)",
            f"{pct(dig(shapiro, 'all', 'fraction_p_below_alpha'))} / {pct(dig(shapiro, 'core', 'fraction_p_below_alpha'))}",
            "per-component normality; Bonferroni-corrected: "
            f"{pct(dig(shapiro, 'all', 'fraction_p_below_bonferroni'))} / "
            f"{pct(dig(shapiro, 'core', 'fraction_p_below_bonferroni'))}")
    return rows


def analysis_figures(folder: Path, summary: dict) -> list[Figure]:
    listed = summary.get("figures") if isinstance(summary.get("figures"), dict) else {}
    by_file = {str(file): key for key, file in listed.items()}
    n_text = f"N = {num(summary.get('n_points'))} z-points"
    figures = []
    for path in pngs(folder):
        key = by_file.get(path.name, path.stem)
        if key.startswith("pair_"):
            title = "Component pair " + key[len("pair_"):].replace("_", " and ")
            caption = PAIR_CAPTION
        elif key in FIGURE_CAPTIONS:
            title, caption = FIGURE_CAPTIONS[key]
        else:
            title, caption = key.replace("_", " ").capitalize(), f"`{path.name}`."
        figures.append(Figure(path, title=title, caption=f"{caption} {n_text}."))
    order = list(by_file)
    figures.sort(key=lambda f: order.index(f.path.name) if f.path.name in order else len(order))
    return figures


def latent_section(run) -> Section:
    folder = Path(run.path) / ANALYSIS_DIR
    section = Section("latent", "Latent space", hint=f"`aegen analyze {run.path}` fills this section.",
                      lead="How the z-points fill the latent space: location, correlations, principal axes and "
                           "how normal the cloud is.")
    summary = read_json_if_present(folder / SUMMARY)
    if not isinstance(summary, dict):
        return section
    split = summary.get("split", "train")
    subsample = summary.get("subsample") or {}
    sub_text = (f" a random subsample of {num(subsample.get('n_points'))} of {num(subsample.get('of'))} "
                f"(seed {num(subsample.get('seed'))})" if subsample.get("analysed") else "")
    section.blocks.append(Text(f"The {split} z-points,{sub_text or ' all'} {num(summary.get('n_points'))} of them, "
                               f"dimension {num(summary.get('dim'))}; numbers from `{ANALYSIS_DIR}/{SUMMARY}`."))
    section.blocks.append(Table(["quantity", "value", "what it says"], headline_rows(summary),
                                caption="Headline numbers; the full list is below the figures."))
    skipped = summary.get("skipped") or {}
    if skipped:
        section.blocks.append(Details(f"{len(skipped)} statistic(s) skipped",
                                      [Items([f"`{key}`: {reason}" for key, reason in skipped.items()])]))
    figures = analysis_figures(folder, summary)
    if figures:
        section.blocks.append(Gallery(figures, min_width=FIGURE_CARD))
    conventions = summary.get("conventions") or {}
    rest = {k: v for k, v in summary.items() if k not in ("figures", "skipped", "conventions")}
    rows = [[key, value] for key, value in flatten(rest)]
    blocks = [Table(["key", "value"], rows, caption=f"{len(rows)} values from `{ANALYSIS_DIR}/{SUMMARY}`; lists are "
                                                    "summarised by their length and range.")]
    if conventions:
        blocks.insert(0, Items([f"{key.replace('_', ' ')}: {text}" for key, text in conventions.items()]))
    section.blocks.append(Details("All numbers of the analysis", blocks))
    return section
