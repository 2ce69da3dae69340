"""Figures of the whole cloud: location, correlations, PCA spectrum, FWHM, Mahalanobis Q-Q."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import stats

from aegen.latent.geometry import CloudGeometry
from aegen.latent.pca import LatentPCA
from aegen.latent.sigma import mahalanobis_radius
from aegen.plots import save_figure, use_agg


def plot_location(geometry: CloudGeometry, sigmas, path: str | Path) -> Path:
    """Radii |z|, distances from the centre and Mahalanobis radii, with the origin's position marked."""
    use_agg()
    import matplotlib.pyplot as plt

    n = len(geometry.radius)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    ax = axes[0]
    ax.hist(geometry.radius, bins=80, color="#7aa6d6", label="|z| of the z-points")
    ax.axvline(geometry.centre_norm, color="#d62728", lw=2, label=f"|centre| = {geometry.centre_norm:.3g}")
    ax.set_xlabel("radius |z| (distance from the origin)")
    ax.set_ylabel("number of z-points")
    ax.set_title("Radii of the z-vectors")
    ax.legend(loc="best", framealpha=0.9)

    ax = axes[1]
    ax.hist(geometry.centre_distance, bins=80, color="#7aa6d6", label="|z - centre|")
    closer = np.mean(geometry.centre_distance < geometry.centre_norm)
    ax.axvline(geometry.centre_norm, color="#d62728", lw=2,
               label=f"origin: {geometry.centre_norm:.3g}\n({closer:.1%} of points are closer)")
    ax.set_xlabel("Euclidean distance from the cloud's centre")
    ax.set_ylabel("number of z-points")
    ax.set_title("Where the origin sits, Euclidean")
    ax.legend(loc="best", framealpha=0.9)

    ax = axes[2]
    radii = np.sqrt(geometry.mahalanobis_sq)
    origin = np.sqrt(geometry.origin_mahalanobis_sq)
    # A far-away origin would squeeze the histogram into one bin: use a log axis then.
    log_scale = origin > 2 * np.quantile(radii, 0.99) and radii.min() > 0
    bins = np.geomspace(radii.min(), max(radii.max(), origin) * 1.05, 120) if log_scale else 80
    ax.hist(radii, bins=bins, color="#7aa6d6", label="Mahalanobis radius")
    if log_scale:
        from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    closer = np.mean(geometry.mahalanobis_sq < geometry.origin_mahalanobis_sq)
    ax.axvline(origin, color="#d62728", lw=2, label=f"origin: {origin:.3g}\n({closer:.1%} of points are closer)")
    for s, style in zip(sigmas, ["--", "-.", ":", (0, (5, 1)), (0, (1, 3))]):
        ax.axvline(mahalanobis_radius(s, geometry.dof), color="black", ls=style, lw=1,
                   label=f"{s:g} sigma ellipsoid ({geometry.dof}-D mass)")
    ax.set_xlabel("Mahalanobis radius from the centre" + (" (log scale)" if log_scale else ""))
    ax.set_ylabel("number of z-points")
    ax.set_title("Where the origin sits, in units of the covariance")
    ax.legend(fontsize=8, loc="best", framealpha=0.9)
    fig.suptitle(f"Location of the z-point cloud relative to the origin (all N = {n:,} points)")
    return save_figure(fig, path)


def plot_correlation(corr: np.ndarray, top_pairs: list[dict], n_points: int, path: str | Path) -> Path:
    """Correlation matrix heatmap next to the strongest pairs."""
    use_agg()
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(16, 7.2), gridspec_kw={"width_ratios": [1.25, 1]},
                                      layout="constrained")
    image = left.imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    fig.colorbar(image, ax=left, fraction=0.046, pad=0.04, label="Pearson correlation r")
    left.set_xlabel("component j")
    left.set_ylabel("component i")
    left.set_title(f"Correlation matrix of the z-components (N = {n_points:,})")
    shown = top_pairs[:20]
    labels = [f"({p['i']}, {p['j']})" for p in shown][::-1]
    values = [p["r"] for p in shown][::-1]
    colors = ["#d62728" if v > 0 else "#1f77b4" for v in values]
    right.barh(np.arange(len(values)), values, color=colors)
    right.set_yticks(np.arange(len(values)), labels, fontsize=8)
    right.axvline(0, color="black", lw=0.8)
    right.set_xlim(-1, 1)
    right.set_xlabel("correlation r (red: positive, blue: negative)")
    right.set_ylabel("component pair (i, j)")
    right.set_title(f"The {len(shown)} most strongly correlated pairs")
    return save_figure(fig, path)


def plot_pca_variance(pca: LatentPCA, path: str | Path, fractions=(0.9, 0.99)) -> Path:
    """Explained variance ratio per PCA component (log scale) and its cumulative sum."""
    use_agg()
    import matplotlib.pyplot as plt

    k = np.arange(len(pca.explained_variance_ratio_))
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.8))
    left.semilogy(k, np.clip(pca.explained_variance_ratio_, 1e-16, None), "o-", ms=2.5, lw=0.8,
                  label="explained variance ratio")
    left.set_xlabel("PCA component (0 = largest variance)")
    left.set_ylabel("fraction of the total variance")
    left.set_title("Explained variance per PCA component")
    left.legend()
    right.plot(k + 1, pca.cumulative_variance_ratio_, lw=1.5, label="cumulative explained variance")
    for frac, color in zip(fractions, ["#d62728", "#2ca02c", "#9467bd"]):
        m = pca.n_components_for(frac)
        right.axhline(frac, color=color, ls="--", lw=0.8)
        right.axvline(m, color=color, ls="--", lw=0.8, label=f"{frac:.0%} of the variance: {m} components")
    right.set_xlabel("number of leading PCA components")
    right.set_ylabel("cumulative fraction of the variance")
    right.set_title("Cumulative explained variance")
    right.legend(loc="lower right")
    fig.suptitle(f"PCA of the z-points (N = {pca.n_samples_:,}, d = {len(k)})")
    return save_figure(fig, path)


def plot_fwhm(table: dict, path: str | Path) -> Path:
    """Histogram FWHM against 2.3548 std per PCA component: the samplers' bins and the seed's.

    ``table``: :func:`aegen.latent.resolution.pca_fwhm_table`. Left: the widths; right: the
    relative error against the component's std in bins, where the seed's one bin breaks down.
    """
    use_agg()
    import matplotlib.pyplot as plt

    def label(columns: dict) -> str:
        if columns["bin_rule"] == "per-component":
            return "a bin per component (the samplers' default)"
        if columns["bin_rule"] == "seed":
            return f"the seed's one bin = {columns['bin_width']:.3g} (Scott's rule, widest component)"
        return f"one bin = {columns['bin_width']:.3g} for all"

    measurements = [(table, "#1f77b4", "o")]
    if table.get("seed"):
        measurements.append((table["seed"], "#d62728", "s"))
    expected = np.asarray(table["gaussian_fwhm"], dtype=float)
    k = np.arange(len(expected))
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.8))
    left.semilogy(k, expected, "-", lw=1.5, color="black", label="2.3548 x std (Gaussian FWHM)")
    errors = []
    for columns, color, marker in measurements:
        measured = np.asarray(columns["histogram_fwhm"], dtype=float)
        ratio = 1.0 + np.asarray(columns["relative_error"], dtype=float)
        errors.append(ratio)
        left.semilogy(k, measured, marker, ms=2.5, color=color, label=f"histogram FWHM, {label(columns)}")
        if columns.get("bin_width") is not None:
            left.axhline(columns["bin_width"], color=color, ls="--", lw=1, alpha=0.7)
        if columns.get("breakdown_from_component") is not None:
            left.axvline(columns["breakdown_from_component"], color=color, ls=":", lw=1.2,
                         label=f"breakdown from component {columns['breakdown_from_component']}")
        right.loglog(np.asarray(columns["std_in_bins"], dtype=float), ratio, marker, ms=3, color=color,
                     label=label(columns))
    left.set_xlabel("PCA component (0 = largest variance)")
    left.set_ylabel("full width at half maximum")
    left.set_title("Half-widths of the PCA components (dashed: a common bin width)")
    left.legend(fontsize=8, loc="upper right")
    limit = table["breakdown_relative_error"]
    right.axhspan(1 - limit, 1 + limit, color="#2ca02c", alpha=0.15, label=f"within \u00b1{100 * limit:g}%")
    right.axhline(1, color="black", lw=0.8)
    right.set_xlabel("component std / its bin width (bins per std)")
    right.set_ylabel("measured FWHM / (2.3548 x std)")
    every = np.concatenate(errors)
    finite = every[np.isfinite(every) & (every > 0)]
    if finite.size:
        right.set_ylim(min(0.5, finite.min() / 1.2), max(2.0, finite.max() * 1.2))
    right.set_title("One bin for all breaks down for narrow components")
    right.legend(loc="upper right", fontsize=8)
    fig.suptitle(f"FWHM of each PCA component measured on histograms (N = {table['n_points']:,} points)")
    return save_figure(fig, path)


def plot_mahalanobis_qq(r_sq: np.ndarray, dof: int, beyond: list[dict], path: str | Path,
                        n_quantiles: int = 2000) -> Path:
    """Q-Q plot of squared Mahalanobis radii against chi-square(dof), plus their histogram."""
    use_agg()
    import matplotlib.pyplot as plt

    n = len(r_sq)
    probs = (np.arange(1, n_quantiles + 1) - 0.5) / n_quantiles if n > n_quantiles else (np.arange(1, n + 1) - 0.5) / n
    empirical = np.quantile(r_sq, probs)
    theoretical = stats.chi2.ppf(probs, dof)
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.2))
    left.plot(theoretical, empirical, ".", ms=3, color="#1f77b4",
              label=f"empirical quantiles ({len(probs):,} levels of N = {n:,} points)")
    lim = [0, max(theoretical.max(), empirical.max())]
    left.plot(lim, lim, color="black", lw=1, label="y = x (multivariate normal)")
    for row, style in zip(beyond, ["--", "-.", ":", (0, (5, 1)), (0, (1, 3))]):
        left.axvline(row["mahalanobis_radius"] ** 2, color="#d62728", ls=style, lw=1,
                     label=f"{row['sigma']:g} sigma: {row['fraction_beyond']:.2%} beyond "
                           f"(normal: {row['expected']:.2%})")
    left.set_xlabel(f"chi-square quantile ({dof} degrees of freedom)")
    left.set_ylabel("squared Mahalanobis radius")
    left.set_title("Q-Q plot of squared Mahalanobis radii")
    left.legend(fontsize=8, loc="upper left")
    right.hist(r_sq, bins=100, density=True, color="#7aa6d6", label="z-points")
    x = np.linspace(max(0.0, r_sq.min()), np.quantile(r_sq, 0.999), 400)
    right.plot(x, stats.chi2.pdf(x, dof), color="#d62728", lw=1.5, label=f"chi-square, {dof} dof")
    right.set_xlabel("squared Mahalanobis radius")
    right.set_ylabel("probability density")
    right.set_title("Distribution of squared Mahalanobis radii")
    right.legend()
    fig.suptitle("Multivariate normality: squared Mahalanobis radii against the chi-square distribution")
    return save_figure(fig, path)
