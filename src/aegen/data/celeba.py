"""The CelebA annotation files: attributes, official partition and identities.

Parsing is strict: a malformed line or a row count that disagrees with the file's header
is a one-line :class:`~aegen.AegenError` naming the file and line, never a silent shift of
labels onto the wrong images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aegen import AegenError

ATTR_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
IDENTITY_FILE = "identity_CelebA.txt"
# Official centre crop used by RAE and most CelebA-64 work: 140x140 of the 178x218 image.
CELEBA_CROP = 140


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="strict").splitlines()
    except UnicodeDecodeError:
        raise AegenError(f"{path}: not a text file") from None


def parse_attributes(path: str | Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """Read ``list_attr_celeba.txt``: (attribute names, {image id: (A,) int8 in {-1, 1}})."""
    path = Path(path)
    lines = [ln for ln in _lines(path) if ln.strip()]
    if len(lines) < 2:
        raise AegenError(f"{path}: expected a count line and a names line")
    try:
        declared = int(lines[0].split()[0])
    except (ValueError, IndexError):
        raise AegenError(f"{path}: line 1 should be the number of rows, got {lines[0][:40]!r}") from None
    names = lines[1].split()
    rows: dict[str, np.ndarray] = {}
    for lineno, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if len(fields) != len(names) + 1:
            raise AegenError(f"{path}:{lineno}: expected {len(names) + 1} fields, got {len(fields)}")
        try:
            values = np.array([int(v) for v in fields[1:]], dtype=np.int8)
        except ValueError:
            raise AegenError(f"{path}:{lineno}: attribute values must be -1 or 1") from None
        if not np.all((values == 1) | (values == -1)):
            raise AegenError(f"{path}:{lineno}: attribute values must be -1 or 1")
        if fields[0] in rows:
            raise AegenError(f"{path}:{lineno}: duplicate row for {fields[0]}")
        rows[fields[0]] = values
    if len(rows) != declared:
        raise AegenError(f"{path}: header declares {declared} rows but the file has {len(rows)}")
    return names, rows


def parse_id_table(path: str | Path) -> dict[str, int]:
    """Read a two-column CelebA table (partition or identity): {image id: integer}."""
    path = Path(path)
    table: dict[str, int] = {}
    for lineno, line in enumerate(_lines(path), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise AegenError(f"{path}:{lineno}: expected 2 fields, got {len(fields)}")
        try:
            table[fields[0]] = int(fields[1])
        except ValueError:
            raise AegenError(f"{path}:{lineno}: second field must be an integer") from None
    return table


def find_annotation(image_source: Path, name: str) -> Path | None:
    """The annotation file ``name`` beside the zip/folder, or inside the folder, if present."""
    candidates = [image_source.parent / name]
    if image_source.is_dir():
        candidates.insert(0, image_source / name)
    return next((c for c in candidates if c.is_file()), None)


def lookup(table: dict[str, object] | None, ids: list[str], path: Path | None, what: str) -> list | None:
    """Values of ``table`` for ``ids``; an image with no row is an error naming it."""
    if table is None:
        return None
    missing = [i for i in ids if i not in table]
    if missing:
        raise AegenError(f"{path}: no {what} row for {len(missing)} image(s), e.g. {missing[0]}")
    return [table[i] for i in ids]
