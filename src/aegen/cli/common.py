"""Arguments shared by several commands.

Options whose defaults belong to a dataclass (``TrainConfig``, ``ModelConfig``) are added
with ``default=argparse.SUPPRESS``: an option the user did not give is absent from the
parsed arguments, so the dataclass fills it in and its default is written in one place only.
The help text quotes that default from the dataclass.
"""

from __future__ import annotations

import argparse

from aegen.config import dataclass_default


def parse_int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def default_text(cls, name: str) -> str:
    """``"(default 256)"`` from the dataclass, lists as the CLI spells them."""
    value = dataclass_default(cls, name)
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    return f"(default {value})"


def given(args: argparse.Namespace, *names: str) -> dict:
    """The options among ``names`` that the user gave (the others were suppressed)."""
    return {name: getattr(args, name) for name in names if hasattr(args, name)}


def add_data_args(p: argparse.ArgumentParser) -> None:
    from aegen.data.dataset import SUPPORTED_IMAGE_SIZES
    from aegen.model import ModelConfig
    from aegen.train import TrainConfig

    p.add_argument("--data", default=argparse.SUPPRESS,
                   help="celeba:PATH (zip or folder), folder:PATH (images, recursive, or a zip) or "
                        f"synthetic[:n=N,seed=S,blur=B] {default_text(TrainConfig, 'data')}")
    p.add_argument("--image-size", type=int, default=argparse.SUPPRESS, choices=list(SUPPORTED_IMAGE_SIZES),
                   help=f"side of the square training images {default_text(ModelConfig, 'image_size')}")
    p.add_argument("--limit", type=int, default=argparse.SUPPRESS, help="use only the first N images")
    p.add_argument("--cache-dir", default=argparse.SUPPRESS,
                   help="preprocessing cache (default $AEGEN_CACHE_DIR or ~/.cache/aegen); recorded in the run, "
                        "so later commands on the run use it too")


def add_run_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run folder written by `aegen train`")
