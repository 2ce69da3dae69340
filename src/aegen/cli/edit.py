"""``aegen edit``: move real faces along an attribute direction and write the strip."""

from __future__ import annotations

import re

from aegen.cli.common import add_run_arg


def add_parser(sub) -> None:
    p = sub.add_parser(
        "edit", help="edit real faces along an attribute direction",
        description="Move the z-points of real images along an attribute's direction (fitted on the training "
                    "z-points) and decode them. Writes RUN/edits/<id>-<attr>.png: original, reconstruction, "
                    "then one face per strength; one row per --image.")
    add_run_arg(p)
    p.add_argument("--image", action="append", required=True, metavar="ID",
                   help="image id as in RUN/zpoints/*_ids.npy, e.g. 000123.jpg (repeatable: one row each)")
    p.add_argument("--attr", required=True, help="attribute name, e.g. Smiling")
    p.add_argument("--strength", default="-2:2:5",
                   help="START:STOP:NUM or a,b,c; + adds the attribute (default -2:2:5)")
    p.add_argument("--unit", choices=["std", "centres"], default="std",
                   help="strength 1 = the cloud's std along the direction (std), or the distance between "
                        "the class centres along it (centres)")
    p.add_argument("--direction", choices=["mean", "probe"], default="mean",
                   help="difference of class means, or a linear probe's normal")
    p.add_argument("--seed", type=int, default=0, help="seeds the probe")
    p.add_argument("--out", default=None, help="PNG path (default RUN/edits/<id>-<attr>.png)")
    # Let "--strength -2:2:5" read -2:2:5 as a value: before Python 3.13 argparse takes any
    # "-<digit>..." that is not a plain number for an option. This parser has no such options.
    p._negative_number_matcher = re.compile(r"^-\.?\d")
    p.set_defaults(func=run)


def run(args) -> int:
    from aegen.attributes import write_edit_strip
    from aegen.run import open_run

    run_ = open_run(args.run)
    path = write_edit_strip(run_, args.image, args.attr, args.strength, method=args.direction, unit=args.unit,
                            random_state=args.seed, out=args.out)
    print(f"edited {len(args.image)} face(s) along {args.attr}: {path} (details {path.with_suffix('.json')})")
    return 0
