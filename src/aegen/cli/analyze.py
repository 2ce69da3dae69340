"""``aegen analyze``: figures and numbers on a run's z-point cloud.

The options are declared on the fields of :class:`~aegen.latent.analyze.AnalyzeConfig`, which
also checks them.
"""

from __future__ import annotations

from aegen.cli.common import add_step_parser, step_config
from aegen.latent.analyze import AnalyzeConfig


def add_parser(sub) -> None:
    add_step_parser(
        sub, "analyze", AnalyzeConfig, run,
        help="analyse the z-point cloud: distributions, location, correlations, PCA, normality",
        description="Write RUN/analysis/: PNG figures and summary.json with every number.")


def config_from_args(args) -> AnalyzeConfig:
    """The :class:`~aegen.latent.analyze.AnalyzeConfig` of parsed ``aegen analyze`` arguments."""
    return step_config(args, AnalyzeConfig)


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
