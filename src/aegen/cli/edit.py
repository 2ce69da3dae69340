"""``aegen edit``: move real faces along an attribute direction and write the strip.

The options are declared on the fields of :class:`~aegen.attributes.editing.EditConfig`.
"""

from __future__ import annotations

from aegen.cli.common import step_config


def run(args) -> int:
    from aegen.attributes import write_edit_strip
    from aegen.run import open_run

    config = step_config(args)
    path = write_edit_strip(open_run(args.run), **config.keywords())
    print(f"edited {len(config.image)} face(s) along {config.attr}: {path} (details {path.with_suffix('.json')})")
    return 0
