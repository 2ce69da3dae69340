"""Parameter sweeps: the metrics of one sampler method over a grid of its parameters.

``--param fact=0.5:0.9:0.1`` is a range (start:stop:step; stop included when the steps land
on it), ``--param n_components=25,50,100`` a list; several parameters give their cartesian
product. Every setting is scored with the same references as ``aegen evaluate`` (features of
real images come from the same cache), so a sweep costs one decode and one feature pass per
setting. Baseline rows (the reference rows, or other methods in their default parameters)
are drawn as horizontal lines in the plots, which is how a sweep of ``ellipse-pca`` answers
whether it beats the ellipsoid used directly (``truncated-gaussian``).
"""

from __future__ import annotations

import hashlib
import itertools
import json

from tqdm.auto import tqdm

from aegen import AegenError
from aegen.evaluate.protocol.evaluation import evaluate_one
from aegen.evaluate.protocol.describe import describe_protocol
from aegen.evaluate.protocol.evaluator import Evaluator
from aegen.evaluate.protocol.methods import REFERENCE_ROWS, parse_methods
from aegen.evaluate.protocol.record import EvalProtocol
from aegen.evaluate.protocol.rows import RESULT_VERSION, as_rows
from aegen.evaluate.sweep_plots import sweep_figure
from aegen.evaluate.tables import markdown_table
from aegen.io import write_json, write_text
from aegen.params import parse_values, split_assignment
from aegen.run import open_run


def parse_param(spec: str) -> tuple[str, list]:
    """'fact=0.5:0.9:0.1' -> ('fact', [0.5, 0.6, 0.7, 0.8, 0.9]); 'k=1,2' -> ('k', [1, 2]).

    The reading of :mod:`aegen.params`, shared with every ``--param``; ValueError when malformed.
    """
    name, text = split_assignment(spec)
    return name, parse_values(text, name)


def parameter_grid(specs: list[str] | dict[str, list]) -> tuple[dict[str, list], list[dict]]:
    """The parameter values and the cartesian product of settings, in the order given."""
    if isinstance(specs, dict):
        grid = {k: list(v) for k, v in specs.items()}
    else:
        grid = {}
        for spec in specs:
            name, values = parse_param(spec)
            if name in grid:
                raise ValueError(f"--param {name} given twice")
            grid[name] = values
    if not grid:
        raise ValueError("give at least one --param NAME=VALUES")
    settings = [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]
    return grid, settings


def sweep_folder_name(method: str, grid: dict, n: int, seed: int, features: str, baselines: list[str],
                      repeats: int = 1, fit_seeds: int = 1) -> str:
    """'<method>-<hash>': the hash covers everything that changes the sweep's numbers.

    Settings left at their defaults (one set, one fit) stay out of the hash, so the folders of
    earlier sweeps keep their names.
    """
    blob = json.dumps({"method": method, "grid": grid, "n": n, "seed": seed, "features": features,
                       "baselines": baselines, **({"repeats": repeats} if repeats != 1 else {}),
                       **({"fit_seeds": fit_seeds} if fit_seeds != 1 else {})},
                      sort_keys=True, default=str)
    return f"{method}-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"


def best_settings(rows) -> dict[str, dict]:
    """The setting with the lowest FID and KID and the highest precision, recall and coverage."""
    rows = as_rows(rows)
    out = {}
    for key, better in (("fid", min), ("kid", min), ("precision", max), ("recall", max), ("coverage", max)):
        scored = [r for r in rows if r.value(key) is not None]
        if scored:
            best = better(scored, key=lambda r: r.value(key))
            out[key] = {"params": best.params, "value": best.value(key)}
    return out


def sweep_run(run, method: str, params: list[str] | dict[str, list], n: int = 200, seed: int = 0,
              features: str = "inception", faces: bool = True, baselines=REFERENCE_ROWS, repeats: int = 1,
              bootstrap: int = 100, feature_mode: str = "fast", batch_size: int = 32, progress: bool = True,
              fit_seeds: int = 1, figures: bool = True) -> dict:
    """Evaluate ``method`` of ``run`` at every setting of the ``params`` grid.

    params: '--param' specs ('fact=0.5:0.9:0.1') or a dict name -> values. baselines:
    reference rows and/or other methods (default parameters) drawn for comparison.
    fit_seeds: fits of each setting (and baseline) whose fit is random, as in ``aegen evaluate``,
    so that the fit-to-fit variance enters every interval. figures: False writes the numbers only
    (and removes the plots an earlier run of the same sweep drew).
    Writes RUN/eval/sweeps/<method>-<hash>/ (metrics.json, table.md, one plot per
    parameter) and returns ``{"method", "grid", "rows", "baselines", "best", "protocol", "outputs"}``.
    """
    run = open_run(run)
    (method,) = parse_methods([method])
    if method in REFERENCE_ROWS:
        raise AegenError(f"{method} is a reference row, not a sampler method to sweep")
    grid, settings = parameter_grid(params)
    baseline_names = parse_methods(list(baselines)) if baselines else []
    evaluator = Evaluator(n=n, seed=seed, features=features, faces=faces, repeats=repeats, bootstrap=bootstrap,
                          reconstruction="reconstruction" in baseline_names, feature_mode=feature_mode,
                          batch_size=batch_size, progress=progress, fit_seeds=fit_seeds).fit(run)
    raw_rows = []
    for setting in tqdm(settings, desc=f"sweep {method}", unit="setting", disable=not progress):
        raw_rows.append(evaluate_one(evaluator, method, setting)[0])
    raw_baselines = [evaluate_one(evaluator, name)[0] for name in baseline_names]
    differences = evaluator.finish()["differences"]
    protocol = describe_protocol(evaluator).to_dict()  # the result is metrics.json's object, dicts throughout
    folder_name = sweep_folder_name(method, grid, n, seed, features, baseline_names, repeats, fit_seeds)
    folder = run.subdir(f"eval/sweeps/{folder_name}")
    rows = as_rows(raw_rows)
    result = {"version": RESULT_VERSION, "method": method, "grid": grid, "rows": [r.to_dict() for r in rows],
              "baselines": [r.to_dict() for r in as_rows(raw_baselines)], "best": best_settings(rows),
              "differences": differences, "protocol": protocol}
    outputs = {"metrics.json": folder / "metrics.json", "table.md": folder / "table.md"}
    write_json(outputs["metrics.json"], result)
    write_text(outputs["table.md"], sweep_table(result))
    for name in grid:
        if figures:
            outputs[f"{name}.png"] = sweep_figure(result, name, folder / f"{name}.png")
        else:
            (folder / f"{name}.png").unlink(missing_ok=True)
    result["outputs"] = {k: str(v) for k, v in outputs.items()}
    return result


def sweep_table(result: dict) -> str:
    """Markdown: the sweep's rows with one column per parameter, the best settings, the baselines."""
    protocol = EvalProtocol.from_dict(result["protocol"])
    leading = [(name, (lambda r, name=name: str(r.params.get(name)))) for name in result["grid"]]
    text = markdown_table(result["rows"], protocol, leading=leading,
                          title=f"Sweep of {result['method']} over {', '.join(result['grid'])}")
    lines = [text, "Best settings:"]
    for key, best in result["best"].items():
        setting = ", ".join(f"{k}={v}" for k, v in best["params"].items())
        lines.append(f"- {key}: {setting} ({best['value']:.4g})")
    if result["baselines"]:
        lines += ["", "Baselines (default parameters):", "",
                  markdown_table(result["baselines"], protocol, with_caption=False)]
    return "\n".join(lines) + "\n"
