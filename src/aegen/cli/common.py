"""Arguments shared by several commands."""

from __future__ import annotations

import argparse


def parse_int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="synthetic",
                   help="celeba:PATH (zip or folder), folder:PATH (images, recursive, or a zip) or "
                        "synthetic[:n=N,seed=S] (default: synthetic)")
    p.add_argument("--image-size", type=int, default=64, choices=[32, 64, 96, 128])
    p.add_argument("--limit", type=int, default=None, help="use only the first N images")
    p.add_argument("--cache-dir", default=None, help="preprocessing cache (default $AEGEN_CACHE_DIR or ~/.cache/aegen)")


def add_run_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run folder written by `aegen train`")
