"""``aegen report RUN``: one self-contained HTML page about the run.

The options are declared on the fields of :class:`~aegen.report.config.ReportConfig`.
"""

from __future__ import annotations

from aegen.cli.common import step_config


def run(args) -> int:
    from aegen.report import write_report

    index = write_report(args.run, **step_config(args).keywords())
    print(index)
    return 0
