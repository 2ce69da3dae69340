"""The ``aegen`` command line: a thin layer over the Python API.

Every command is declared once, in :data:`COMMANDS`: its name, the dataclass that declares its
options (:mod:`aegen.config`) and its help texts; its module in this package holds
``run(args) -> int``, which reads its config with :func:`aegen.cli.common.step_config`.

:func:`main` is the one place where errors become the user's one-line message (exit 2): an
:class:`~aegen.AegenError`, a ValueError (the library's answer to a bad parameter) and an
OSError from the disk. The commands themselves do not catch them.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from dataclasses import dataclass

from aegen import AegenError, __version__
from aegen.cli.common import add_run_arg
from aegen.config import add_options


@dataclass(frozen=True)
class Command:
    """One ``aegen`` command, run by ``aegen.cli.<name>.run(args)``.

    ``config``: "module:Class" of the dataclass that declares its options, imported when the
    parser is built (None: the module adds its options with ``add_options(parser)``).
    ``takes_run``: the command's first argument is a run folder.
    """

    name: str
    config: str | None
    help: str
    description: str | None = None
    takes_run: bool = True


# Order is the order shown by ``aegen --help``.
COMMANDS = [
    Command("demo", "aegen.demo:DemoConfig",
            help="run the whole pipeline on built-in synthetic faces (minutes on a laptop CPU; each step's time is "
                 "printed)",
            takes_run=False),
    Command("train", None,  # two configs (training and model): cli/train.py adds their options
            help="train the autoencoder", description="Train the seed's standard convolutional autoencoder.",
            takes_run=False),
    Command("encode", "aegen.encode:EncodeConfig",
            help="encode the run's images into z-points",
            description="Write RUN/zpoints/{train,heldout}.npy with ids and attributes beside them."),
    Command("analyze", "aegen.latent.analyze:AnalyzeConfig",
            help="analyse the z-point cloud: distributions, location, correlations, PCA, normality",
            description="Write RUN/analysis/: PNG figures and summary.json with every number."),
    Command("sample", "aegen.sample:SampleConfig",
            help="generate z-vectors with a sampler fitted on the run's z-points, and decode them",
            description="Fit a sampler on RUN's training z-points (cached under RUN/samplers/), draw N z-vectors "
                         "and write RUN/samples/NAME/: z.npy, grid.png of the first 64 decoded faces, params.json "
                         "and figures of the vectors over the z-point cloud."),
    Command("evaluate", "aegen.evaluate.protocol.config:EvaluateConfig",
            help="measure generated faces against held-out images",
            description="For each method, decode N samples and compare them with held-out real images: FID and KID, "
                         "precision/recall, density/coverage, face-detection rate, memorisation and the latent "
                         "check, plus the reference rows 'reconstruction' and 'real'. Writes RUN/eval/metrics.json, "
                         "metrics.md, figures and sample grids."),
    Command("sweep", "aegen.evaluate.protocol.config:SweepConfig",
            help="metrics of one method over a grid of its parameters",
            description="Evaluate METHOD at every combination of the --param values (as aegen evaluate does), and "
                         "write RUN/eval/sweeps/<method>-<hash>/ with metrics.json, table.md and one plot per "
                         "parameter (FID, KID with its spread, precision and recall)."),
    Command("attributes", "aegen.attributes.config:AttributesConfig",
            help="do attributes form clusters in latent space? (and rate conditional samples)",
            description="Per attribute: class centres and distances, covariance difference, a linear probe's "
                         "held-out accuracy, silhouettes and 2-D views; written to RUN/attributes/. With --rate "
                         "instead: train (or reuse) an attribute CNN on the real images and rate samples drawn "
                         "with and without attribute conditions (RUN/attributes/conditional.*)."),
    Command("edit", "aegen.attributes.editing:EditConfig",
            help="edit real faces along an attribute direction",
            description="Move the z-points of real images along an attribute's direction (fitted on the training "
                         "z-points) and decode them. Writes RUN/edits/<id>-<attr>.png: original, reconstruction, "
                         "then one face per strength; one row per --image."),
    Command("report", "aegen.report.config:ReportConfig",
            help="write one HTML page with everything the run holds",
            description="Write RUN/report/index.html: the run, the latent analysis, a live latent explorer (sliders "
                         "move a z-vector and its face is decoded in the page), the sampler gallery, the metrics, "
                         "the attribute results and the commands that reproduce them. The page needs no network; "
                         "sections for steps not yet run name the command that fills them."),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aegen",
        description="Turn a standard convolutional autoencoder into a face generator.",
    )
    parser.add_argument("--version", action="version", version=f"aegen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        module = importlib.import_module(f"aegen.cli.{command.name}")
        p = sub.add_parser(command.name, help=command.help, description=command.description)
        # Let a value such as "--strength -2:2:5" read as a value: before Python 3.13 argparse
        # takes any "-<digit>..." that is not a plain number for an option, and no aegen option
        # starts with a digit.
        p._negative_number_matcher = re.compile(r"^-\.?\d")
        if command.takes_run:
            add_run_arg(p)
        if command.config is None:
            module.add_options(p)
            p.set_defaults(func=module.run)
            continue
        config_module, config_name = command.config.split(":")
        config_class = getattr(importlib.import_module(config_module), config_name)
        add_options(p, config_class)
        p.set_defaults(func=module.run, config_class=config_class)
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
