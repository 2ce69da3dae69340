"""``aegen analyze``: figures and numbers on a run's z-point cloud.

The options are declared on the fields of :class:`~aegen.latent.analyze.AnalyzeConfig`, which
also checks them.
"""

from __future__ import annotations

from aegen.cli.common import add_run_arg


def add_parser(sub) -> None:
    from aegen.config import add_options
    from aegen.latent.analyze import AnalyzeConfig

    p = sub.add_parser(
        "analyze", help="analyse the z-point cloud: distributions, location, correlations, PCA, normality",
        description="Write RUN/analysis/: PNG figures and summary.json with every number.")
    add_run_arg(p)
    add_options(p, AnalyzeConfig)
    p.set_defaults(func=run)


def config_from_args(args):
    """The :class:`~aegen.latent.analyze.AnalyzeConfig` of parsed ``aegen analyze`` arguments."""
    from aegen.config import given_options
    from aegen.latent.analyze import AnalyzeConfig

    return AnalyzeConfig(**given_options(args, AnalyzeConfig))


def run(args) -> int:
    from aegen.latent import analyze_run
    from aegen.run import Run

    config = config_from_args(args)
    run_ = Run.open(args.run)
    summary = analyze_run(run_, **config.keywords())
    out = run_.path / "analysis"
    print(f"analysis of {summary['n_points']:,} {config.split} z-points (d = {summary['dim']}): {out}")
    print(f"  figures: {', '.join(summary['figures'].values())}")
    print(f"  numbers: {out / 'summary.json'}")
    for key, reason in summary["skipped"].items():
        print(f"  skipped {key}: {reason}")
    return 0
