"""The sections of :func:`aegen.latent.analyze_zpoints`, each writing its figures and numbers.

A section that lacks the points it needs raises InsufficientDataError; the orchestrator
records the reason under ``skipped`` and goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from aegen.io import save_npy
from aegen.latent import contours, normality
from aegen.latent.checks import InsufficientDataError, subsample_indices
from aegen.latent.components import component_histograms, component_summary
from aegen.latent.correlation import correlation_matrix, correlation_summary
from aegen.latent.geometry import CloudGeometry, cloud_geometry, pair_ellipse
from aegen.latent.moments import CloudMoments, cloud_moments
from aegen.latent.pca import LatentPCA
from aegen.latent.plot_cloud import plot_correlation, plot_fwhm, plot_location, plot_mahalanobis_qq, plot_pca_variance
from aegen.latent.plot_components import plot_component_gof, plot_component_histograms, plot_component_moments
from aegen.latent.plot_pairs import PairView, plot_pair
from aegen.latent.resolution import pca_fwhm_table
from aegen.latent.sigma import mahalanobis_radius


@dataclass
class Context:
    """State shared by the sections: the (possibly subsampled) cloud and what is known of it."""

    Z: np.ndarray
    out_dir: Path
    rng: np.random.Generator
    sigmas: tuple[float, ...]
    core_sigma: float
    test_points: int
    scatter_points: int
    progress: bool
    make_figures: bool = True
    moments: CloudMoments | None = None
    pca: LatentPCA | None = None
    geometry: CloudGeometry | None = None
    corr: np.ndarray | None = None
    core_mask: np.ndarray | None = None
    figures: dict = field(default_factory=dict)

    def draw(self, name: str, plot, *args) -> None:
        """Call ``plot(*args, path)`` for the figure ``name``.png, unless figures are switched off."""
        if self.make_figures:
            plot(*args, self.out_dir / f"{name}.png")
            self.figures[name] = f"{name}.png"

    def need(self, attr: str, what: str):
        value = getattr(self, attr)
        if value is None:
            raise InsufficientDataError(f"{what} needs the {attr} section, which was skipped")
        return value


def components_section(ctx: Context) -> dict:
    moments = ctx.moments
    summary = component_summary(moments)
    hist = component_histograms(ctx.Z, moments, progress=ctx.progress)
    summary["histogram_points_outside_span"] = int(hist.outside.sum())
    ctx.draw("component_histograms", plot_component_histograms, hist, moments)
    ctx.draw("component_moments", plot_component_moments, moments)
    return summary


def pca_fit_section(ctx: Context) -> None:
    ctx.pca = LatentPCA().fit_moments(ctx.moments)


def location_section(ctx: Context) -> dict:
    pca = ctx.need("pca", "the location")
    ctx.geometry = cloud_geometry(ctx.Z, pca, progress=ctx.progress)
    ctx.draw("location", plot_location, ctx.geometry, ctx.sigmas)
    return ctx.geometry.summary(ctx.moments.std, ctx.moments.mean)


def correlation_section(ctx: Context, top_k: int) -> dict:
    ctx.moments.require(3, "correlations")
    ctx.corr = correlation_matrix(ctx.moments.cov)
    summary = correlation_summary(ctx.corr, top_k)
    save_npy(ctx.out_dir / "correlation.npy", ctx.corr.astype(np.float32))
    summary["matrix_file"] = "correlation.npy"
    summary["n_points"] = ctx.moments.n
    ctx.draw("correlation", plot_correlation, ctx.corr, summary["top_pairs"], ctx.moments.n)
    return summary


def default_pairs(ctx: Context, n_pairs: int = 3) -> list[tuple[int, int]]:
    """(0, 1), the plane of the two leading PCA axes, and the most strongly correlated pairs."""
    d = ctx.Z.shape[1]
    if d < 2:
        return []
    pairs = [(0, 1)]
    if ctx.corr is not None:
        for p in correlation_summary(ctx.corr, n_pairs)["top_pairs"]:
            if len(pairs) < n_pairs and (p["i"], p["j"]) not in pairs:
                pairs.append((p["i"], p["j"]))
    return pairs


def _pair_view(xy: np.ndarray, sample_idx: np.ndarray, labels, frame: str, level_sigmas,
               sigmas) -> tuple[PairView, dict]:
    mean, cov = xy.mean(axis=0), np.cov(xy, rowvar=False)
    ellipse = pair_ellipse(cov)
    numbers = {"n_points": len(xy), "mean": mean.tolist(), "cov": cov.tolist(), "ellipse": ellipse}
    try:
        numbers["sigma_ellipse_occupancy"] = contours.sigma_ellipse_occupancy(xy, sorted({*level_sigmas, *sigmas}))
        density = contours.pair_density(xy)
        numbers["contours"] = contours.contour_ellipticity(density, level_sigmas)
    except InsufficientDataError as exc:
        density = None
        numbers["contours"] = {"skipped": str(exc)}
    view = PairView(sample=xy[sample_idx], n_points=len(xy), mean=mean, cov=cov, density=density,
                    level_sigmas=tuple(level_sigmas), labels=labels, frame=frame, ellipse=ellipse)
    return view, numbers


def pairs_section(ctx: Context, pairs: list[tuple[int, int]]) -> list[dict]:
    pca = ctx.need("pca", "the pair figures")
    n = ctx.Z.shape[0]
    if n < 3:
        raise InsufficientDataError(f"pair figures need at least 3 points, got {n}")
    if not pairs:
        raise InsufficientDataError("no component pairs to draw (d < 2)")
    sample_idx = subsample_indices(n, ctx.scatter_points, ctx.rng)
    level_sigmas = contours.DEFAULT_LEVEL_SIGMAS
    pca_cols = sorted({c for pair in pairs for c in pair})
    scores = pca.transform(ctx.Z, components=pca_cols)
    results = []
    for i, j in pairs:
        original = np.asarray(ctx.Z[:, [i, j]], dtype=np.float64)
        in_pca = scores[:, [pca_cols.index(i), pca_cols.index(j)]]
        view_o, num_o = _pair_view(original, sample_idx, (f"z[{i}]", f"z[{j}]"),
                                   f"original coordinates (z[{i}], z[{j}])", level_sigmas, ctx.sigmas)
        view_p, num_p = _pair_view(in_pca, sample_idx, (f"PCA component {i}", f"PCA component {j}"),
                                   f"PCA coordinates (components {i}, {j}; 0 = largest variance)", level_sigmas,
                                   ctx.sigmas)
        name = f"pair_{i}_{j}"
        ctx.draw(name, plot_pair, [view_o, view_p], ctx.sigmas)
        results.append({"pair": [i, j], "figure": ctx.figures.get(name), "scatter_points": len(sample_idx),
                        "original": num_o, "pca": num_p,
                        "misalignment_deg": {"original": num_o["ellipse"]["misalignment_deg"],
                                             "pca": num_p["ellipse"]["misalignment_deg"]}})
    return results


def pca_section(ctx: Context, fwhm_bin_width: float | None) -> dict:
    pca = ctx.need("pca", "the PCA summary")
    ctx.draw("pca_variance", plot_pca_variance, pca)
    table = pca_fwhm_table(ctx.Z, pca, fwhm_bin_width, progress=ctx.progress)
    ctx.draw("pca_fwhm", plot_fwhm, table)
    return {
        "n_points": pca.n_samples_,
        "rank": pca.rank_,
        "explained_variance": pca.explained_variance_.tolist(),
        "explained_variance_ratio": pca.explained_variance_ratio_.tolist(),
        "cumulative_variance_ratio": pca.cumulative_variance_ratio_.tolist(),
        "n_components_90": pca.n_components_for(0.90),
        "n_components_99": pca.n_components_for(0.99),
        "fwhm": table,
    }


def _joint_tests(X: np.ndarray, pca: LatentPCA, hz_pca_components: int) -> dict:
    """Mardia's skewness, HZ in all d dims, and HZ on the leading PCA components, of the points X."""
    out: dict = {"n_points": len(X)}
    try:
        out.update(normality.joint_normality_tests(X))
    except InsufficientDataError as exc:
        out["mardia_skewness"] = out["henze_zirkler"] = {"skipped": str(exc)}
    if X.shape[1] > normality.HZ_MAX_DIM:
        out["henze_zirkler"] = {"skipped": normality.HZ_UNCALIBRATED.format(d=X.shape[1])}
    k = min(hz_pca_components, pca.rank_, normality.HZ_MAX_DIM)
    try:
        out["henze_zirkler_leading_pca"] = {"components": k, **normality.henze_zirkler_test(
            pca.transform(X, components=np.arange(k)))}
    except InsufficientDataError as exc:
        out["henze_zirkler_leading_pca"] = {"skipped": str(exc)}
    return out


def _kurtosis(r_sq_ddof1: np.ndarray, dim: int) -> dict:
    n = len(r_sq_ddof1)
    try:
        # Mardia's radii use the covariance with divisor n; LatentPCA's has divisor n - 1.
        return normality.mardia_kurtosis_from_sq_radii(r_sq_ddof1 * n / max(n - 1, 1), dim)
    except InsufficientDataError as exc:
        return {"skipped": str(exc)}


def normality_section(ctx: Context, hz_pca_components: int) -> dict:
    pca, geometry = ctx.need("pca", "normality"), ctx.need("geometry", "normality")
    r_sq, dof, n = geometry.mahalanobis_sq, geometry.dof, len(geometry.mahalanobis_sq)
    levels = sorted({2.0, 3.0, ctx.core_sigma, *ctx.sigmas})
    beyond = normality.fraction_beyond(r_sq, levels, dof)
    ctx.draw("mahalanobis_qq", plot_mahalanobis_qq, r_sq, dof, [row for row in beyond if row["sigma"] in (2.0, 3.0)])
    core_radius = mahalanobis_radius(ctx.core_sigma, dof)
    ctx.core_mask = r_sq <= core_radius**2
    result = {
        "mahalanobis_dof": dof,
        "fraction_beyond": beyond,
        "core": {"sigma": ctx.core_sigma, "mahalanobis_radius": core_radius,
                 "n_points": int(ctx.core_mask.sum()), "fraction": float(ctx.core_mask.mean())},
    }
    all_idx = subsample_indices(n, ctx.test_points, ctx.rng)
    tests_all = _joint_tests(np.asarray(ctx.Z[all_idx], dtype=np.float64), pca, hz_pca_components)
    tests_all["mardia_kurtosis"] = _kurtosis(r_sq, dof)
    core_rows = np.nonzero(ctx.core_mask)[0]
    if len(core_rows) >= 2:
        core_idx = core_rows[subsample_indices(len(core_rows), ctx.test_points, ctx.rng)]
        tests_core = _joint_tests(np.asarray(ctx.Z[core_idx], dtype=np.float64), pca, hz_pca_components)
        try:
            core_pca = LatentPCA().fit_moments(cloud_moments(ctx.Z, mask=ctx.core_mask))
            kurt = _kurtosis(core_pca.mahalanobis_sq(ctx.Z)[ctx.core_mask], core_pca.rank_)
            if "b2" in kurt:
                ref = normality.truncated_normal_kurtosis(dof, core_radius, kurt["n"])
                z = (kurt["b2"] - ref["expected"]) / ref["std"]
                kurt["truncated_normal"] = {
                    "description": "b2 against a normal cloud cut at the same radius (the cut alone lowers b2)",
                    "expected": ref["expected"], "z": z, "p_value": float(2 * stats.norm.sf(abs(z)))}
            tests_core["mardia_kurtosis"] = kurt
        except InsufficientDataError as exc:
            tests_core["mardia_kurtosis"] = {"skipped": str(exc)}
    else:
        tests_core = {"skipped": f"the core holds {len(core_rows)} points, too few for any test"}
    result["tests"] = {
        "description": ("Mardia's skewness and Henze-Zirkler on a random subsample (n_points), Mardia's "
                        "kurtosis on every point; 'core' re-estimates mean and covariance inside the core. "
                        "Henze-Zirkler runs on the leading PCA components only (henze_zirkler_leading_pca, at most "
                        f"{normality.HZ_MAX_DIM}): above that its p-value is not calibrated (on normal data it "
                        "clusters at 0.5), so the full-space value is not reported."),
        "all": tests_all,
        "core": tests_core,
    }
    return result


def _plot_gof(sw_all, sw_core, alpha, path):
    plot_component_gof(sw_all, sw_core, path, alpha)


def shapiro_section(ctx: Context) -> dict:
    n = ctx.Z.shape[0]
    alpha = 0.01
    idx = subsample_indices(n, min(ctx.test_points, 5000), ctx.rng)
    sw_all = normality.shapiro_per_component(np.asarray(ctx.Z[idx], dtype=np.float64))
    sw_core = None
    result = {"alpha": alpha, "all": sw_all}
    if ctx.core_mask is None:
        result["core"] = {"skipped": "the core is unknown because the normality section was skipped"}
    else:
        core_rows = np.nonzero(ctx.core_mask)[0]
        try:
            core_idx = core_rows[subsample_indices(len(core_rows), min(ctx.test_points, 5000), ctx.rng)]
            sw_core = normality.shapiro_per_component(np.asarray(ctx.Z[core_idx], dtype=np.float64))
            result["core"] = sw_core
        except InsufficientDataError as exc:
            result["core"] = {"skipped": str(exc)}
    for key in ("all", "core"):
        if "p_value" in result[key]:
            p = np.asarray(result[key]["p_value"], dtype=float)
            result[key]["fraction_p_below_alpha"] = float(np.nanmean(p < alpha))
            result[key]["fraction_p_below_bonferroni"] = float(np.nanmean(p < alpha / len(p)))
    ctx.draw("component_normality", _plot_gof, sw_all, sw_core, alpha)
    return result
