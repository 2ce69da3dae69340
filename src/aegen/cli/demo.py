"""``aegen demo``: the whole pipeline on built-in synthetic faces."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline on built-in synthetic faces (about 7 min on one CPU core)")
    p.add_argument("--out", default="runs/demo", help="run folder (default runs/demo); an existing demo run is continued")
    p.add_argument("--n-images", type=int, default=6000)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--eval-n", type=int, default=100, help="samples per method in the evaluation")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args) -> int:
    from aegen.demo import DemoConfig, run_demo

    run_demo(DemoConfig(out=args.out, n_images=args.n_images, epochs=args.epochs, eval_n=args.eval_n, seed=args.seed))
    return 0
