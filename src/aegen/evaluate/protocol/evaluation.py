"""``evaluate_run``: score every method of a run and write RUN/eval/.

Outputs: ``metrics.json`` (``rows``: one object per method with its intervals,
``differences``: every pair of rows compared, plus ``protocol``),
``metrics.md`` (the table; both from one :class:`~aegen.evaluate.protocol.rows.EvalResult`), ``metrics.png``, ``latent_radii.png``, ``memorisation.png`` and
``samples/<method>.png`` (the first 64 decoded images of each row). Each evaluation first removes
the figures and grids of the one before it (:func:`remove_figures`), so the folder never shows
pictures of other rows, or of other sample sets, beside its numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aegen import AegenError
from aegen.evaluate.figures import latent_radii_figure, memorisation_figure, metrics_figure
from aegen.evaluate.metrics.scores import FEATURE_METRICS
from aegen.evaluate.protocol.describe import describe_protocol
from aegen.evaluate.protocol.evaluator import Evaluator
from aegen.evaluate.protocol.methods import DEFAULT_METHODS, REFERENCE_ROWS, check_sampler_params, parse_methods
from aegen.evaluate.protocol.record import EvalProtocol
from aegen.evaluate.protocol.rows import EvalResult, EvalRow, PairedDifferences, ScoredSet, as_rows
from aegen.evaluate.tables import markdown_table
from aegen.io import write_json, write_text
from aegen.plots import save_image_grid
from aegen.run import open_run

GRID_IMAGES = 64
FIGURE_FILES = ("metrics.png", "latent_radii.png", "memorisation.png")
NULL_METRICS = FEATURE_METRICS + ("face_rate", "nn_train_median", "share_closer_than_heldout_p1", "copy_z", "meehan_ct",
                                  "latent_in_band", "latent_radius_ks", "latent_inside_3sigma", "latent_radius_median")


def error_row(method: str, kind: str, params: dict, n: int, error: Exception) -> dict:
    """A row for a method that could not be evaluated: every metric null, the error named."""
    return {"method": method, "kind": kind, "params": dict(params), "n": n, **dict.fromkeys(NULL_METRICS),
            "error": str(error), "notes": []}


def evaluate_one(evaluator: Evaluator, method: str, params: dict | None = None) -> tuple[dict, ScoredSet | None]:
    """Score one method (or reference row); an AegenError becomes an error row instead of stopping."""
    kind = "reference" if method in REFERENCE_ROWS else "sampler"
    try:
        scored = evaluator.evaluate_reference(method) if kind == "reference" else evaluator.evaluate_method(method, params)
    except AegenError as exc:
        return error_row(method, kind, params or {}, evaluator.n, exc), None
    return scored.row, scored


def evaluate_run(run, methods=DEFAULT_METHODS, n: int = 200, seed: int = 0, features: str = "inception",
                 faces: bool = True, reference_rows: bool = True, repeats: int = 1, bootstrap: int = 100,
                 fid_infinity=(), feature_mode: str = "fast", batch_size: int = 32, progress: bool = True,
                 figures: bool = True, params: dict[str, dict] | None = None, fit_seeds: int = 1) -> dict:
    """Evaluate sampler ``methods`` of ``run`` (a Run or its folder) on ``n`` images per set.

    methods: names of :mod:`aegen.samplers` methods ('a,b' or a list), in default parameters
    unless ``params`` maps a method to its parameters (``{"flow": {"transforms": 10}}``; also
    ``fit_on``, see :func:`aegen.sample.fitted_sampler`); 'reconstruction' and 'real' are
    added at the end unless ``reference_rows`` is False.
    repeats: independent sample sets per sampler (and fit); fit_seeds: fits of each sampler
    whose fit is random, with random_state derived from ``seed`` (see :class:`Evaluator`); bootstrap: replicates for the intervals and
    the paired differences (0: intervals over repeats only); fid_infinity: methods ('all' or
    names) whose FID∞ is extrapolated. figures: False writes the numbers only (no figures and no
    sample grids). features: 'inception' or 'pixels' (see
    :mod:`aegen.evaluate.features.extractors`). Metrics that cannot run here (no eval extra) are null,
    with the reason in ``protocol['skipped']``. Returns ``{"rows", "differences", "protocol",
    "outputs"}`` and writes RUN/eval/metrics.json and metrics.md (plus figures and grids).
    """
    run = open_run(run)
    names = parse_methods(methods)
    params = dict(params or {})
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise AegenError(f"parameters given for {', '.join(unknown)}, which is not among the methods {', '.join(names)}")
    for name, given in params.items():  # a misspelt name fails now, not after an hour of other rows
        check_sampler_params(name, given)
    if reference_rows:
        names += [r for r in REFERENCE_ROWS if r not in names]
    evaluator = Evaluator(n=n, seed=seed, features=features, faces=faces, repeats=repeats, bootstrap=bootstrap,
                          fid_infinity=fid_infinity, reconstruction="reconstruction" in names,
                          feature_mode=feature_mode, batch_size=batch_size, progress=progress,
                          fit_seeds=fit_seeds).fit(run)
    rows, scored_sets = [], {}
    for name in names:
        row, scored = evaluate_one(evaluator, name, params.get(name))
        rows.append(row)
        if scored is not None:
            scored_sets[name] = scored
    comparisons = evaluator.finish()
    evaluation = EvalResult(as_rows(rows), PairedDifferences.from_dict(comparisons["differences"]), describe_protocol(evaluator))
    out = run.subdir("eval")
    remove_figures(out)
    outputs = {"metrics.json": out / "metrics.json", "metrics.md": out / "metrics.md"}
    result = evaluation.to_dict()
    write_json(outputs["metrics.json"], result)
    write_text(outputs["metrics.md"], markdown_table(evaluation.rows, evaluation.protocol,
                                                     title=f"Evaluation of {run.path.name}",
                                                     differences=evaluation.differences))
    if figures:
        outputs.update(write_figures(evaluator, evaluation.rows, scored_sets, evaluation.protocol, out))
    result["outputs"] = {k: str(v) for k, v in outputs.items()}
    return result


def remove_figures(out: Path) -> None:
    """Remove the figures (:data:`FIGURE_FILES`) and sample grids (``samples/*.png``) in ``out``."""
    for path in [out / name for name in FIGURE_FILES] + sorted((out / "samples").glob("*.png")):
        path.unlink(missing_ok=True)


def write_figures(evaluator: Evaluator, rows: list[EvalRow], scored_sets: dict[str, ScoredSet], protocol: EvalProtocol,
                  out: Path) -> dict[str, Path]:
    """Write metrics.png, latent_radii.png, memorisation.png and samples/<method>.png under ``out``."""
    refs = evaluator.references_
    outputs = {"metrics.png": metrics_figure(rows, protocol, out / "metrics.png")}
    sampler_sets = {k: s for k, s in scored_sets.items() if s.row["kind"] == "sampler" or k == "reconstruction"}
    if sampler_sets:
        outputs["latent_radii.png"] = latent_radii_figure(
            {k: s.radii for k, s in sampler_sets.items()}, refs.ellipsoid.heldout_radii_, refs.ellipsoid.band_,
            out / "latent_radii.png")
        outputs["memorisation.png"] = memorisation_figure(
            {k: s.nn_distances for k, s in sampler_sets.items()}, refs.heldout_nn, refs.side, out / "memorisation.png")
    scale = 2 if int(protocol.image_size) <= 64 else 1
    for name, scored in scored_sets.items():
        images = np.asarray(scored.images[:GRID_IMAGES])
        outputs[f"samples/{name}.png"] = save_image_grid(out / "samples" / f"{name}.png", images, scale=scale)
    return outputs

