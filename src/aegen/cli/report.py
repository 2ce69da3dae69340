"""``aegen report RUN``: one self-contained HTML page about the run.

The options are declared on the fields of :class:`~aegen.report.config.ReportConfig`.
"""

from __future__ import annotations

from aegen.cli.common import add_run_arg


def add_parser(sub) -> None:
    from aegen.config import add_options
    from aegen.report.config import ReportConfig

    p = sub.add_parser(
        "report", help="write one HTML page with everything the run holds",
        description="Write RUN/report/index.html: the run, the latent analysis, a live latent explorer (sliders "
                    "move a z-vector and its face is decoded in the page), the sampler gallery, the metrics, "
                    "the attribute results and the commands that reproduce them. The page needs no network; "
                    "sections for steps not yet run name the command that fills them.")
    add_run_arg(p)
    add_options(p, ReportConfig)
    p.set_defaults(func=run)


def config_from_args(args):
    """The :class:`~aegen.report.config.ReportConfig` of parsed ``aegen report`` arguments."""
    from aegen.config import given_options
    from aegen.report.config import ReportConfig

    return ReportConfig(**given_options(args, ReportConfig))


def run(args) -> int:
    from aegen.report import write_report

    index = write_report(args.run, **config_from_args(args).keywords())
    print(index)
    return 0
