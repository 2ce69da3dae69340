"""``aegen sweep``: the metrics of one method over a grid of its parameters."""

from __future__ import annotations

from aegen.cli.common import add_run_arg
from aegen.cli.evaluate import add_evaluation_args, print_skipped_and_errors


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sweep", help="metrics of one method over a grid of its parameters",
        description="Evaluate METHOD at every combination of the --param values (as aegen evaluate does), and "
                    "write RUN/eval/sweeps/<method>-<hash>/ with metrics.json, table.md and one plot per "
                    "parameter (FID, KID with its spread, precision and recall).")
    add_run_arg(p)
    p.add_argument("--method", required=True, help="sampler method, e.g. ellipse-pca")
    p.add_argument("--param", action="append", required=True, metavar="NAME=VALUES",
                   help="START:STOP:STEP (stop included when reached) or a,b,c; repeat for a grid; fit_on=train,"
                        "train+mirrored compares fitting on the mirrored faces too (aegen encode --mirrored); "
                        "e.g. --param fact=0.5:0.9:0.1 --param n_components=25,50,100")
    p.add_argument("--baselines", default="reconstruction,real",
                   help="rows drawn as horizontal lines: reference rows and/or other methods in their default "
                        "parameters, e.g. reconstruction,real,truncated-gaussian ('' for none)")
    add_evaluation_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from aegen.evaluate import sweep_run

    baselines = [b for b in args.baselines.split(",") if b.strip()]
    result = sweep_run(args.run, args.method, args.param, n=args.n, seed=args.seed, features=args.features,
                       faces=args.faces, baselines=baselines, repeats=args.repeats, bootstrap=args.bootstrap,
                       fit_seeds=args.fit_seeds,
                       feature_mode=args.features_mode, batch_size=args.batch_size,
                       progress=not args.quiet)
    print_skipped_and_errors(result)
    for key, best in result["best"].items():
        print(f"best {key}: " + ", ".join(f"{k}={v}" for k, v in best["params"].items()) + f" ({best['value']:.4g})")
    outputs = result["outputs"]
    print(f"swept {len(result['rows'])} settings of {result['method']} at N = {args.n}: {outputs['table.md']} "
          f"(data {outputs['metrics.json']}, plots " + ", ".join(k for k in outputs if k.endswith(".png")) + ")")
    return 0
