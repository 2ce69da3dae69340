"""``aegen evaluate``: score every sampler of a run against its held-out images.

The options are declared on the fields of :class:`~aegen.evaluate.protocol.config.EvaluateConfig`.
"""

from __future__ import annotations

from aegen.cli.common import step_config


def print_skipped_and_errors(result: dict) -> None:
    from aegen.evaluate.protocol.record import EvalProtocol
    from aegen.evaluate.protocol.rows import as_rows
    from aegen.evaluate.tables import group_skipped

    skipped = group_skipped(EvalProtocol.from_dict(result["protocol"]).skipped)
    if skipped:
        print("skipped " + "; ".join(f"{metrics} ({reason})" for metrics, reason in skipped.items()))
    for row in as_rows(result["rows"] + result.get("baselines", [])):
        if row.error:
            setting = ", ".join(f"{k}={v}" for k, v in row.params.items())
            print(f"{row.method}{f' ({setting})' if setting else ''}: error: {row.error}")


def run(args) -> int:
    from aegen.evaluate import evaluate_run

    config = step_config(args)
    result = evaluate_run(args.run, **config.keywords())
    print_skipped_and_errors(result)
    outputs = result["outputs"]
    fits = f" x {config.fit_seeds} fits" if config.fit_seeds > 1 else ""
    drawn = f"figures in {outputs['metrics.png'].rsplit('/', 1)[0]}" if "metrics.png" in outputs else "no figures"
    print(f"evaluated {len(result['rows'])} rows at N = {config.n} x {config.repeats}{fits}: {outputs['metrics.md']} "
          f"(data {outputs['metrics.json']}, {drawn})")
    return 0
