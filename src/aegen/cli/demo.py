"""``aegen demo``: the whole pipeline on built-in synthetic faces.

The options are declared on the fields of :class:`~aegen.demo.DemoConfig`.
"""

from __future__ import annotations

from aegen.cli.common import step_config


def run(args) -> int:
    from aegen.demo import run_demo

    run_demo(step_config(args))
    return 0
