"""``aegen demo``: the whole pipeline on built-in synthetic faces."""

from __future__ import annotations


def add_parser(sub) -> None:
    from aegen.demo import DemoConfig
    from aegen.train_config import LR_SCHEDULES

    p = sub.add_parser("demo", help="run the whole pipeline on built-in synthetic faces (minutes on a laptop CPU; each step's time is printed)")
    p.add_argument("--out", default="runs/demo", help="run folder (default runs/demo); an existing demo run is continued")
    p.add_argument("--n-images", type=int, default=DemoConfig.n_images)
    p.add_argument("--epochs", type=int, default=DemoConfig.epochs)
    p.add_argument("--eval-n", type=int, default=DemoConfig.eval_n, help="samples per method in the evaluation; 2 x this many images are held out")
    p.add_argument("--blur", type=float, default=DemoConfig.blur,
                   help=f"soften the synthetic faces with a Gaussian of this sigma, in pixels (default {DemoConfig.blur:g})")
    p.add_argument("--batch-size", type=int, default=DemoConfig.batch_size)
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=DemoConfig.lr_schedule)
    p.add_argument("--seed", type=int, default=DemoConfig.seed)
    p.set_defaults(func=run)


def run(args) -> int:
    from aegen.demo import DemoConfig, run_demo

    run_demo(DemoConfig(out=args.out, n_images=args.n_images, epochs=args.epochs, eval_n=args.eval_n,
                        blur=args.blur, batch_size=args.batch_size, lr_schedule=args.lr_schedule, seed=args.seed))
    return 0
