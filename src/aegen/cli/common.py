"""Arguments shared by several commands.

Options of a step's configuration are declared on its dataclass (:mod:`aegen.config`).
"""

from __future__ import annotations

import argparse


def add_run_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run folder written by `aegen train`")
