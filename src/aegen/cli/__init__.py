"""The ``aegen`` command line: a thin layer over the Python API.

Each subcommand lives in its own module of this package and exposes
``add_parser(subparsers)``, which registers the command and sets ``func(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from aegen import AegenError, __version__

# Order is the order shown by ``aegen --help``.
COMMAND_MODULES = [
    "demo", "train", "encode", "analyze", "sample", "evaluate", "sweep",
    "attributes", "edit", "report",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aegen",
        description="Turn a standard convolutional autoencoder into a face generator.",
    )
    parser.add_argument("--version", action="version", version=f"aegen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"aegen.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"aegen.cli.{name}":
                continue  # command not part of this build
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except AegenError as exc:
        print(f"aegen {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # The disk, not aegen: full, read-only, gone. The library names the file where it can;
        # this catches the places it does not, so the user still gets one line.
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"aegen {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"aegen {args.command}: interrupted", file=sys.stderr)
        return 130
