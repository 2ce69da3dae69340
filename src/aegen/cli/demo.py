"""``aegen demo``: the whole pipeline on built-in synthetic faces.

The options are declared on the fields of :class:`~aegen.demo.DemoConfig`.
"""

from __future__ import annotations

from aegen.cli.common import add_step_parser, step_config
from aegen.demo import DemoConfig


def add_parser(sub) -> None:
    add_step_parser(
        sub, "demo", DemoConfig, run, takes_run=False,
        help="run the whole pipeline on built-in synthetic faces (minutes on a laptop CPU; each step's time is "
             "printed)")


def config_from_args(args) -> DemoConfig:
    """The :class:`~aegen.demo.DemoConfig` of parsed ``aegen demo`` arguments."""
    return step_config(args, DemoConfig)


def run(args) -> int:
    from aegen.demo import run_demo

    run_demo(config_from_args(args))
    return 0
