"""The ``aegen`` command line: a thin layer over the Python API.

Each subcommand lives in its own module of this package and exposes
``add_parser(subparsers)``, which registers the command and sets ``func(args) -> int``.

:func:`main` is the one place where errors become the user's one-line message (exit 2): an
:class:`~aegen.AegenError`, a ValueError (the library's answer to a bad parameter) and an
OSError from the disk. The commands themselves do not catch them.
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
        importlib.import_module(f"aegen.cli.{name}").add_parser(sub)
    return parser


def one_line(exc: BaseException) -> str:
    """The error's message on one line (a library message may span several)."""
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (AegenError, ValueError) as exc:
        print(f"aegen {args.command}: error: {one_line(exc)}", file=sys.stderr)
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
