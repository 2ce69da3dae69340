"""The full latent-space analysis: figures and summary.json for one (N, d) z-point cloud."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np

from aegen import AegenError
from aegen.config import option
from aegen.io import write_json
from aegen.latent import sections
from aegen.latent.checks import InsufficientDataError, check_zpoints, resolve_random_state, subsample_indices
from aegen.latent.moments import cloud_moments

DEFAULT_SIGMAS = (1.0, 2.0, 3.0)
CORE_SIGMA = 3.0
SUMMARY_FILE = "summary.json"


def check_pairs(pairs, dim: int | None = None) -> tuple[tuple[int, int], ...] | None:
    """Component pairs as (i, j) tuples, duplicates dropped; each pair is two indices or the text "I,J".

    ``dim`` (the cloud's dimension, when known) bounds the indices. ValueError names the bad pair.
    """
    if pairs is None:
        return None
    checked: list[tuple[int, int]] = []
    for pair in pairs:
        try:
            i, j = (int(v) for v in (pair.split(",") if isinstance(pair, str) else pair))
        except (TypeError, ValueError):
            raise ValueError(f"pair {pair!r}: expected I,J, two component indices") from None
        if i == j:
            raise ValueError(f"pair {pair!r} names the same component twice: a pair needs two different components")
        if min(i, j) < 0 or (dim is not None and max(i, j) >= dim):
            bounds = f" 0..{dim - 1}" if dim is not None else ": indices start at 0"
            raise ValueError(f"pair ({i}, {j}) is out of range{bounds}")
        if (i, j) not in checked:
            checked.append((i, j))
    return tuple(checked)


def check_sigmas(sigmas) -> tuple[float, ...]:
    """One to five positive sigma levels (numbers, or the text "1,2,3"), sorted, duplicates dropped."""
    try:
        values = tuple(float(s) for s in (sigmas.split(",") if isinstance(sigmas, str) else sigmas)
                       if not isinstance(s, str) or s.strip())
    except (TypeError, ValueError):
        values = ()
    if not values or not all(math.isfinite(s) and s > 0 for s in values) or len(values) > 5:
        raise ValueError(f"sigmas (--sigma): expected one to five positive numbers, got {sigmas!r}")
    return tuple(sorted(set(values)))


def check_sizes(max_points: int | None = None, test_points: int = 3, fwhm_bin_width: float | None = None) -> None:
    """ValueError unless max_points >= 1 (or None), test_points >= 3 and fwhm_bin_width > 0 (or None)."""
    for name, value, low in (("max_points", max_points, 1), ("test_points", test_points, 3)):
        if value is not None and value < low:
            raise ValueError(f"{name} (--{name.replace('_', '-')}) must be >= {low}, got {value}")
    if fwhm_bin_width is not None and not fwhm_bin_width > 0:
        raise ValueError(f"fwhm_bin_width (--fwhm-bin-width) must be > 0, got {fwhm_bin_width}")


SPLITS = ("train", "heldout")


@dataclass(frozen=True)
class AnalyzeConfig:
    """What ``aegen analyze`` takes: the keywords of :func:`analyze_run`, each an option.

    Checked on construction with the checks :func:`analyze_zpoints` applies (the range of the
    pairs waits for the cloud's dimension); pairs and sigma levels may be given as the command
    line's text ("0,1", "1,2,3") and are kept as numbers.
    """

    split: str = field(default="train", metadata=option("--split", "which z-points", choices=SPLITS))
    pairs: tuple[tuple[int, int], ...] | None = field(default=None, metadata=option(
        "--pairs", "component pairs for the 2-D figures, e.g. --pairs 0,1 3,7 "
                   "(default: 0,1 and the two most strongly correlated pairs)", metavar="I,J", nargs="+", parse=str))
    sigmas: tuple[float, ...] = field(default=DEFAULT_SIGMAS, metadata=option(
        "--sigma", "sigma levels of the confidence ellipses", metavar="S,S,...", parse=str))
    max_points: int | None = field(default=None, metadata=option(
        "--max-points", "analyse a random subsample of at most N z-points (default: all)", metavar="N"))
    random_state: int = field(default=0, metadata=option("--seed", "seed of every random subsample", metavar="SEED"))
    test_points: int = field(default=5000, metadata=option(
        "--test-points", "subsample size of the Shapiro-Wilk, Mardia skewness and Henze-Zirkler tests", metavar="N"))
    fwhm_bin_width: float | None = field(default=None, metadata=option(
        "--fwhm-bin-width", "histogram bin width of the FWHM measurement (default: leading PCA std / 10)",
        metavar="W"))

    def __post_init__(self):
        if self.split not in SPLITS:
            raise ValueError(f"split (--split) must be one of {', '.join(SPLITS)}, got {self.split!r}")
        object.__setattr__(self, "pairs", check_pairs(self.pairs))
        object.__setattr__(self, "sigmas", check_sigmas(self.sigmas))
        check_sizes(self.max_points, self.test_points, self.fwhm_bin_width)

    def keywords(self) -> dict:
        """The keywords of :func:`analyze_run` (every field)."""
        return asdict(self)

    @classmethod
    def from_summary(cls, summary: dict) -> "AnalyzeConfig":
        """The config an analysis' summary.json records (``parameters``, ``split``, ``random_state``);
        what an older summary lacks takes its default."""
        recorded = {**(summary.get("parameters") or {}), "split": summary.get("split"),
                    "random_state": summary.get("random_state")}
        return cls(**{f.name: recorded[f.name] for f in fields(cls) if recorded.get(f.name) is not None})


def _json_ready(obj: Any) -> Any:
    """Replace NaN and Inf by None so that summary.json is strict JSON."""
    if isinstance(obj, dict):
        return {str(k): _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _json_ready(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def _nested_skips(obj: Any, path: str = "") -> dict[str, str]:
    """Collect {"a.b.c": reason} for every nested {"skipped": reason} entry, so all skips are listed in one place."""
    found: dict[str, str] = {}
    if isinstance(obj, dict):
        if path and isinstance(obj.get("skipped"), str):
            found[path] = obj["skipped"]
        for key, value in obj.items():
            if key != "skipped":
                found.update(_nested_skips(value, f"{path}.{key}" if path else str(key)))
    elif isinstance(obj, list):
        for k, value in enumerate(obj):
            found.update(_nested_skips(value, f"{path}[{k}]"))
    return found


def analyze_zpoints(Z: np.ndarray, out_dir: str | Path, pairs=None, sigmas=DEFAULT_SIGMAS,
                    max_points: int | None = None, random_state: int | np.random.Generator | None = 0, *,
                    test_points: int = 5000, scatter_points: int = 20_000, fwhm_bin_width: float | None = None,
                    top_k: int = 20, hz_pca_components: int = 10, core_sigma: float = CORE_SIGMA,
                    figures: bool = True, progress: bool = True) -> dict:
    """Analyse the z-point cloud ``Z`` (N, d); write PNG figures and summary.json to ``out_dir``.

    Sections: per-component distributions and Shapiro-Wilk fits; the cloud's location
    relative to the origin; correlations; 2-D densities, contours and sigma ellipses for
    ``pairs`` (list of (i, j); default (0, 1) and the two most correlated pairs) in original
    and PCA coordinates; PCA spectrum and FWHM table; multivariate normality (Mahalanobis
    Q-Q, fractions beyond sigma levels, Mardia and Henze-Zirkler on all points and on the
    ``core_sigma`` core).

    ``random_state`` (int, None or Generator; :func:`~aegen.latent.checks.resolve_random_state`)
    seeds every random choice; the seed used is recorded as ``random_state`` in the summary.
    ``max_points`` analyses a seeded random subsample of at most that many points;
    ``test_points`` caps the subsamples of the O(n^2) tests and Shapiro-Wilk,
    ``scatter_points`` the points drawn in scatter plots; ``figures=False`` writes only the
    numbers. ``Z`` may be memory-mapped: it is read in chunks. Returns the summary (also
    written to ``out_dir/summary.json``); a statistic that lacks points is listed under
    ``skipped`` with the reason.

    Raises ValueError for bad parameters and for NaN/Inf rows (naming how many).
    """
    started = time.perf_counter()
    Z = check_zpoints(Z, check_finite=False)  # the moments' pass finds NaN/Inf rows
    n_total, d = Z.shape
    pairs = check_pairs(pairs, d)
    pairs = None if pairs is None else list(pairs)
    sigmas = check_sigmas(sigmas)
    check_sizes(max_points, test_points, fwhm_bin_width)
    for name, value, low in (("scatter_points", scatter_points, 1),
                             ("top_k", top_k, 1), ("hz_pca_components", hz_pca_components, 2)):
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")
    if not core_sigma > 0:
        raise ValueError(f"core_sigma must be > 0, got {core_sigma}")
    rng, seed = resolve_random_state(random_state)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    if max_points is not None and max_points < n_total:
        check_zpoints(Z)
        Z = np.asarray(Z[subsample_indices(n_total, max_points, rng)])
    moments = cloud_moments(Z, progress=progress)  # raises on NaN/Inf rows
    ctx = sections.Context(Z=Z, out_dir=out_dir, rng=rng, sigmas=sigmas, core_sigma=core_sigma,
                           test_points=test_points, scatter_points=scatter_points, progress=progress,
                           make_figures=figures, moments=moments)
    summary: dict = {
        "n_points_total": n_total,
        "n_points": Z.shape[0],
        "dim": d,
        "random_state": seed,
        "parameters": {"pairs": pairs, "sigmas": list(sigmas), "max_points": max_points,
                       "test_points": test_points, "scatter_points": scatter_points,
                       "fwhm_bin_width": fwhm_bin_width, "top_k": top_k,
                       "hz_pca_components": hz_pca_components, "core_sigma": core_sigma},
        "subsample": {"analysed": Z.shape[0] < n_total, "n_points": Z.shape[0], "of": n_total, "seed": seed},
        "conventions": {
            "sigma_levels_d_dim": ("a sigma level s in d dimensions is the Mahalanobis ellipsoid holding the normal "
                                   "mass of [-s, s] (aegen.latent.sigma.mahalanobis_radius); 'core' is the "
                                   "core_sigma ellipsoid of the full cloud"),
            "sigma_ellipses_2d": ("2-D ellipses have semi-axes of s standard deviations along the principal axes of "
                                  "the pair's 2x2 covariance (the seed's convention)"),
            "angles": ("major_axis_angle_deg: angle of the 2x2 covariance ellipse's major axis from the pair's first "
                       "axis, in (-90, 90]; misalignment_deg: angle to the nearest coordinate axis, in [0, 45]"),
            "contours": ("pairs[*].*.contours: ellipses fitted by area moments to the density's contour lines at the "
                         "Gaussian's sigma levels; see aegen.latent.contours"),
        },
        "skipped": {},
    }

    def section(key: str, fn: Callable[[], Any]) -> None:
        try:
            value = fn()
        except InsufficientDataError as exc:
            summary["skipped"][key] = str(exc)
            return
        if value is not None:
            summary[key] = value

    section("components", lambda: sections.components_section(ctx))
    section("pca_fit", lambda: sections.pca_fit_section(ctx))
    section("location", lambda: sections.location_section(ctx))
    section("correlation", lambda: sections.correlation_section(ctx, top_k))
    chosen = pairs if pairs is not None else sections.default_pairs(ctx)
    summary["parameters"]["pairs_drawn"] = [list(p) for p in chosen]
    section("pairs", lambda: sections.pairs_section(ctx, chosen))
    section("pca", lambda: sections.pca_section(ctx, fwhm_bin_width))
    section("normality", lambda: sections.normality_section(ctx, hz_pca_components))
    section("component_normality", lambda: sections.shapiro_section(ctx))
    summary["figures"] = ctx.figures
    summary["skipped"].update(_nested_skips(summary))
    summary["elapsed_s"] = round(time.perf_counter() - started, 2)
    summary = _json_ready(summary)
    write_json(out_dir / SUMMARY_FILE, summary)
    return summary


def analyze_run(run, split: str = "train", **kwargs) -> dict:
    """Analyse the z-points of ``split`` of an :class:`aegen.run.Run`; writes RUN/analysis/.

    ``kwargs`` go to :func:`analyze_zpoints`. Raises AegenError where the split's z-points
    are missing or invalid.
    """
    Z = run.zpoints(split)
    out_dir = run.subdir("analysis")
    try:
        summary = analyze_zpoints(Z, out_dir, **kwargs)
    except ValueError as exc:
        raise AegenError(f"cannot analyse the {split} z-points of {run.path}: {exc}") from None
    summary["run"] = str(run.path)
    summary["split"] = split
    write_json(out_dir / SUMMARY_FILE, summary)
    return summary
