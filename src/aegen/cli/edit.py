"""``aegen edit``: move real faces along an attribute direction and write the strip.

The options are declared on the fields of :class:`~aegen.attributes.editing.EditConfig`.
"""

from __future__ import annotations

import re

from aegen.attributes.editing import EditConfig
from aegen.cli.common import add_step_parser, step_config


def add_parser(sub) -> None:
    p = add_step_parser(
        sub, "edit", EditConfig, run,
        help="edit real faces along an attribute direction",
        description="Move the z-points of real images along an attribute's direction (fitted on the training "
                    "z-points) and decode them. Writes RUN/edits/<id>-<attr>.png: original, reconstruction, "
                    "then one face per strength; one row per --image.")
    # Let "--strength -2:2:5" read -2:2:5 as a value: before Python 3.13 argparse takes any
    # "-<digit>..." that is not a plain number for an option. This parser has no such options.
    p._negative_number_matcher = re.compile(r"^-\.?\d")


def config_from_args(args) -> EditConfig:
    """The :class:`~aegen.attributes.editing.EditConfig` of parsed ``aegen edit`` arguments."""
    return step_config(args, EditConfig)


def run(args) -> int:
    from aegen.attributes import write_edit_strip
    from aegen.run import open_run

    config = config_from_args(args)
    path = write_edit_strip(open_run(args.run), **config.keywords())
    print(f"edited {len(config.image)} face(s) along {config.attr}: {path} (details {path.with_suffix('.json')})")
    return 0
