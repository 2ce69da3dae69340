"""``aegen analyze``: figures and numbers on a run's z-point cloud.

The options are declared on the fields of :class:`~aegen.latent.analyze.AnalyzeConfig`, which
also checks them.
"""

from __future__ import annotations

from aegen.cli.common import step_config


def run(args) -> int:
    from aegen.latent import analyze_run
    from aegen.run import Run

    config = step_config(args)
    run_ = Run.open(args.run)
    summary = analyze_run(run_, **config.keywords())
    out = run_.path / "analysis"
    print(f"analysis of {summary['n_points']:,} {config.split} z-points (d = {summary['dim']}): {out}")
    print(f"  figures: {', '.join(summary['figures'].values())}")
    print(f"  numbers: {out / 'summary.json'}")
    for key, reason in summary["skipped"].items():
        print(f"  skipped {key}: {reason}")
    return 0
