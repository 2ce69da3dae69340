"""What every step's configuration dataclass shares."""

from __future__ import annotations

from dataclasses import MISSING, fields


def dataclass_default(cls, name: str):
    """The default of field ``name`` of dataclass ``cls``, as it would be filled in."""
    field = next(f for f in fields(cls) if f.name == name)
    if field.default is not MISSING:
        return field.default
    return field.default_factory()  # type: ignore[misc]
