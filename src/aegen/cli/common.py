"""What the step commands share: the RUN argument, and a parsed step's config.

Options of a step's configuration are declared on its dataclass (:mod:`aegen.config`); the
commands themselves, with their help texts, are declared once in :data:`aegen.cli.COMMANDS`.
"""

from __future__ import annotations

import argparse

from aegen.config import given_options


def add_run_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run folder written by `aegen train`")


def step_config(args: argparse.Namespace):
    """The config of a parsed step command (its class is in ``args.config_class``, set by
    :func:`aegen.cli.build_parser`): the options given, the dataclass's defaults for the rest."""
    return args.config_class(**given_options(args, args.config_class))
