"""What the step commands share: the RUN argument and the parser of a step declared by its config.

Options of a step's configuration are declared on its dataclass (:mod:`aegen.config`); a
command module names the step, its help texts, its config class and its run function, and
:func:`add_step_parser` and :func:`step_config` do the rest.
"""

from __future__ import annotations

import argparse
from typing import Callable

from aegen.config import add_options, given_options


def add_run_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run folder written by `aegen train`")


def add_step_parser(sub, name: str, config_cls, func: Callable[[argparse.Namespace], int], *, help: str,
                    description: str | None = None, takes_run: bool = True) -> argparse.ArgumentParser:
    """Register command ``name``: the RUN argument (unless not ``takes_run``), then an option for each
    option field of ``config_cls``; ``func(args)`` runs it. Returns the parser for any special case."""
    p = sub.add_parser(name, help=help, description=description)
    if takes_run:
        add_run_arg(p)
    add_options(p, config_cls)
    p.set_defaults(func=func)
    return p


def step_config(args: argparse.Namespace, config_cls):
    """The ``config_cls`` of parsed arguments: the options given, the dataclass's defaults for the rest."""
    return config_cls(**given_options(args, config_cls))
