"""``aegen report RUN``: one self-contained HTML page about the run.

The options are declared on the fields of :class:`~aegen.report.config.ReportConfig`.
"""

from __future__ import annotations

from aegen.cli.common import add_step_parser, step_config
from aegen.report.config import ReportConfig


def add_parser(sub) -> None:
    add_step_parser(
        sub, "report", ReportConfig, run,
        help="write one HTML page with everything the run holds",
        description="Write RUN/report/index.html: the run, the latent analysis, a live latent explorer (sliders "
                    "move a z-vector and its face is decoded in the page), the sampler gallery, the metrics, "
                    "the attribute results and the commands that reproduce them. The page needs no network; "
                    "sections for steps not yet run name the command that fills them.")


def config_from_args(args) -> ReportConfig:
    """The :class:`~aegen.report.config.ReportConfig` of parsed ``aegen report`` arguments."""
    return step_config(args, ReportConfig)


def run(args) -> int:
    from aegen.report import write_report

    index = write_report(args.run, **config_from_args(args).keywords())
    print(index)
    return 0
