"""Image sources behind a ``--data`` spec: ``celeba:PATH``, ``folder:PATH`` and ``synthetic``.

A source lists its images in a fixed order (sorted names), reads the encoded bytes of one
image, and knows its annotations. Decoding and caching happen in :mod:`aegen.data.dataset`.
"""

from __future__ import annotations

import hashlib
import os
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aegen import AegenError
from aegen.data import celeba
from aegen.data.images import IMAGE_SUFFIXES

SYNTHETIC_DEFAULT_COUNT = 10_000


@dataclass
class Annotations:
    """Per-image annotations, rows aligned with the source's image ids."""

    attr_names: list[str] = field(default_factory=list)
    attrs: np.ndarray | None = None        # (N, A) int8 in {-1, 1}
    identity: np.ndarray | None = None     # (N,) int64 person id
    partition: np.ndarray | None = None    # (N,) int8: 0 train, 1 val, 2 test


class FileSource:
    """Images stored as files in a folder (recursive) or in a zip archive."""

    def __init__(self, path: Path, crop: int | None, member_prefix: str = ""):
        self.path = path
        self.crop = crop
        self.is_zip = path.is_file()
        self._local = threading.local()
        if self.is_zip:
            try:
                with zipfile.ZipFile(path) as zf:
                    infos = [i for i in zf.infolist() if not i.is_dir()]
            except (zipfile.BadZipFile, OSError) as exc:
                raise AegenError(f"cannot read zip {path}: {exc}") from None
            infos = [i for i in infos if i.filename.lower().endswith(IMAGE_SUFFIXES)
                     and not Path(i.filename).name.startswith(".")]
            if member_prefix and any(i.filename.startswith(member_prefix) for i in infos):
                infos = [i for i in infos if i.filename.startswith(member_prefix)]
            self.members = sorted(i.filename for i in infos)
            stat = path.stat()
            listing = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        else:
            files = sorted(
                p for p in path.rglob("*")
                if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.name.startswith(".")
            )
            self.members = [str(p.relative_to(path)) for p in files]
            digest = hashlib.sha256()
            for rel, p in zip(self.members, files):
                st = p.stat()
                digest.update(f"{rel}|{st.st_size}|{st.st_mtime_ns}\n".encode())
            listing = f"{path.resolve()}|{digest.hexdigest()}"
        self.fingerprint = hashlib.sha256(listing.encode()).hexdigest()[:16]
        self.ids = [Path(m).name if self.is_zip else m for m in self.members]

    def __len__(self) -> int:
        return len(self.members)

    def read(self, index: int) -> bytes:
        if not self.is_zip:
            return (self.path / self.members[index]).read_bytes()
        # One ZipFile per thread: a ZipFile object is not safe to share between threads.
        zf = getattr(self._local, "zf", None)
        if zf is None:
            zf = self._local.zf = zipfile.ZipFile(self.path)
        return zf.read(self.members[index])


@dataclass
class SyntheticSource:
    count: int
    seed: int
    blur: float = 0.0
    fingerprint: str = ""

    def __post_init__(self):
        # Unblurred sources keep the fingerprint (and preprocessing cache) they always had.
        self.fingerprint = f"synthetic-n{self.count}-s{self.seed}" + (f"-b{self.blur!r}" if self.blur else "")
        self.ids = [f"synth-{i:07d}" for i in range(self.count)]

    def __len__(self) -> int:
        return self.count


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``KIND:ARG`` into its parts; a bare ``synthetic`` has an empty argument."""
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in ("celeba", "folder", "synthetic"):
        raise AegenError(f"unknown data spec {spec!r}: use celeba:PATH, folder:PATH or synthetic[:n=N,seed=S,blur=B]")
    if kind != "synthetic" and not arg:
        raise AegenError(f"data spec {spec!r} needs a path: {kind}:PATH")
    return kind, arg


def _synthetic_options(arg: str) -> tuple[int, int, float]:
    from aegen.data.synthetic import MAX_BLUR

    opts = {"n": SYNTHETIC_DEFAULT_COUNT, "seed": 0, "blur": 0.0}
    for item in filter(None, (s.strip() for s in arg.split(","))):
        key, _, value = item.partition("=")
        if key == "blur":
            try:
                blur = float(value)
            except ValueError:
                blur = float("nan")
            if not 0 <= blur <= MAX_BLUR:
                raise AegenError(f"bad synthetic option {item!r}: blur is a Gaussian sigma in pixels, 0 to {MAX_BLUR:g}")
            opts["blur"] = blur
            continue
        if key not in opts or not value.lstrip("-").isdigit():
            raise AegenError(f"bad synthetic option {item!r}: use synthetic:n=N,seed=S[,blur=B]")
        opts[key] = int(value)
    if opts["n"] < 1:
        raise AegenError("synthetic:n must be at least 1")
    return opts["n"], opts["seed"], opts["blur"]


def open_source(spec: str, limit: int | None = None):
    """Open the source named by ``spec``; returns (source, annotations, description dict)."""
    kind, arg = parse_spec(spec)
    if limit is not None and limit < 1:
        raise AegenError(f"--limit must be at least 1, got {limit}")
    if kind == "synthetic":
        n, seed, blur = _synthetic_options(arg)
        source = SyntheticSource(min(n, limit) if limit else n, seed, blur)
        from aegen.data.synthetic import SYNTHETIC_ATTR_NAMES, render_faces  # noqa: F401

        return source, Annotations(attr_names=list(SYNTHETIC_ATTR_NAMES)), {"kind": kind, "n": n, "seed": seed, "blur": blur}

    path = Path(os.path.expanduser(arg))
    if not path.exists():
        raise AegenError(f"no such file or folder: {path}")
    if kind == "celeba" and path.is_dir() and not any(path.glob("*.jp*g")):
        zipped = path / "img_align_celeba.zip"
        if zipped.is_file():
            path = zipped
    crop = celeba.CELEBA_CROP if kind == "celeba" else None
    source = FileSource(path, crop, member_prefix="img_align_celeba/" if kind == "celeba" else "")
    if len(source) == 0:
        raise AegenError(f"no images (jpg, png, webp, bmp) found in {path}")
    if limit:
        source.members, source.ids = source.members[:limit], source.ids[:limit]
    annotations = Annotations()
    if kind == "celeba":
        annotations = _celeba_annotations(path, source.ids)
    return source, annotations, {"kind": kind, "path": str(path.resolve())}


def _celeba_annotations(path: Path, ids: list[str]) -> Annotations:
    ann = Annotations()
    attr_path = celeba.find_annotation(path, celeba.ATTR_FILE)
    if attr_path:
        names, rows = celeba.parse_attributes(attr_path)
        ann.attr_names = names
        ann.attrs = np.stack(celeba.lookup(rows, ids, attr_path, "attribute")).astype(np.int8)
    for name, key, dtype in ((celeba.IDENTITY_FILE, "identity", np.int64), (celeba.PARTITION_FILE, "partition", np.int8)):
        table_path = celeba.find_annotation(path, name)
        if table_path:
            values = celeba.lookup(celeba.parse_id_table(table_path), ids, table_path, key)
            setattr(ann, key, np.asarray(values, dtype=dtype))
    return ann
