"""``aegen attributes``: attribute clusters in latent space, and conditional sampling checked."""

from __future__ import annotations

from aegen.cli.common import add_run_arg
from aegen.params import parse_params


def add_parser(sub) -> None:
    p = sub.add_parser(
        "attributes", help="do attributes form clusters in latent space? (and rate conditional samples)",
        description="Per attribute: class centres and distances, covariance difference, a linear probe's "
                    "held-out accuracy, silhouettes and 2-D views; written to RUN/attributes/. With --rate "
                    "instead: train (or reuse) an attribute CNN on the real images and rate samples drawn "
                    "with and without attribute conditions (RUN/attributes/conditional.*).")
    add_run_arg(p)
    p.add_argument("--attrs", default=None,
                   help="comma-separated names (default: Smiling,Male,Blond_Hair,Eyeglasses,Wearing_Hat "
                        "where present, else the first 5)")
    p.add_argument("--seed", type=int, default=0, help="seeds subsamples, probes, samplers and the classifier")
    p.add_argument("--silhouette-points", type=int, default=4000,
                   help="balanced subsample size for silhouettes and scatter plots (default 4000)")
    p.add_argument("--probe-c", type=float, default=1.0, help="inverse L2 strength of the linear probe")
    p.add_argument("--no-figures", dest="figures", action="store_false")
    rate = p.add_argument_group("rating conditional samples (--rate)")
    rate.add_argument("--rate", action="store_true", help="rate conditional sampling instead of the cluster analysis")
    rate.add_argument("--method", default="gaussian", help="sampler name (any of `aegen sample`'s methods)")
    rate.add_argument("--n", type=int, default=500, help="samples per condition (default 500)")
    rate.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="sampler parameter (repeatable)")
    rate.add_argument("--where", action="append", default=[], metavar="A=1,B=-1",
                      help="an extra joint condition to rate (repeatable; values 1 or -1, also 0, true, false)")
    rate.add_argument("--classifier-epochs", type=int, default=5)
    rate.add_argument("--classifier-threads", type=int, default=1,
                      help="torch threads for the classifier (default 1: fastest on a busy machine)")
    rate.add_argument("--retrain", action="store_true", help="train the attribute classifier again")
    p.set_defaults(func=run)


def run(args) -> int:
    from aegen.attributes import analyze_run, rate_conditional_sampling
    from aegen.conditions import run_condition
    from aegen.run import open_run

    run_ = open_run(args.run)
    if args.rate:
        extra = [run_condition(run_, text) for text in args.where]
        result = rate_conditional_sampling(
            run_, args.attrs, method=args.method, n=args.n, params=parse_params(args.param),
            random_state=args.seed, extra_where=[w for w in extra if w],
            classifier_params={"epochs": args.classifier_epochs, "random_state": args.seed,
                               "num_threads": args.classifier_threads},
            retrain=args.retrain, figures=args.figures)
        out = run_.path / "attributes"
        for name, row in result["attributes"].items():
            print(f"{name}: =1 -> {row['positive_share_when_requested']:.1%} carry it "
                  f"(unconditional {row['unconditional_positive_rate']:.1%}); =-1 -> "
                  f"{row['negative_share_when_requested']:.1%} lack it; classifier accuracy "
                  f"{row['classifier_accuracy']:.3f} (balanced {row['classifier_balanced_accuracy']:.3f})")
        print(f"conditional sampling rated: {out / 'conditional.json'}, {out / 'conditional.md'}")
        return 0
    summary = analyze_run(run_, args.attrs, silhouette_points=args.silhouette_points, probe_C=args.probe_c,
                          random_state=args.seed, figures=args.figures)
    out = run_.path / "attributes"
    for name, row in summary["attributes"].items():
        print(f"{name}: {row['verdict']} (silhouette {row['silhouette']['latent']['mean']:.3f}, probe balanced "
              f"accuracy {row['probe']['balanced_accuracy']:.3f}, centres {row['centre_distance_in_spread']:.2f} "
              "spreads apart)")
    print(f"attribute analysis: {out / 'summary.json'}, {out / 'summary.md'}"
          + (f", figures in {out}" if args.figures else ""))
    return 0
