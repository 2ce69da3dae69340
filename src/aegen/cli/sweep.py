"""``aegen sweep``: the metrics of one method over a grid of its parameters.

The options are declared on the fields of :class:`~aegen.evaluate.protocol.config.SweepConfig`.
"""

from __future__ import annotations

from aegen.cli.common import step_config
from aegen.cli.evaluate import print_skipped_and_errors


def run(args) -> int:
    from aegen.evaluate import sweep_run

    config = step_config(args)
    result = sweep_run(args.run, **config.keywords())
    print_skipped_and_errors(result)
    for key, best in result["best"].items():
        print(f"best {key}: " + ", ".join(f"{k}={v}" for k, v in best["params"].items()) + f" ({best['value']:.4g})")
    outputs = result["outputs"]
    plots = [k for k in outputs if k.endswith(".png")]
    print(f"swept {len(result['rows'])} settings of {result['method']} at N = {config.n}: {outputs['table.md']} "
          f"(data {outputs['metrics.json']}, {'plots ' + ', '.join(plots) if plots else 'no plots'})")
    return 0
