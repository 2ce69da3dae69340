"""The report's images: copied beside index.html, or embedded in it as data URIs.

Either way the page needs nothing outside the report folder, so it opens offline and
still works after the folder is moved or sent to someone.

The report's copy of an image has the pixels of the run's file, in fewer bytes
(:func:`compact_image`): the PNG written again without loss (:func:`compact_png`: matplotlib
saves RGBA even where every pixel is opaque, and a fourth channel of 255s costs bytes, so an
opaque RGBA image becomes RGB), or lossless WebP where that is smaller, kept only after it decodes
to the same pixels (:func:`lossless_webp`). Every current browser shows WebP. The run's files are
never touched. (zlib level 9 instead of Pillow's 6 saved 2% more of the PNG bytes on the
demo-style run, for 4.5 times the CPU time: 7.5 s instead of 1.7 s for its 34 images.)

Nothing is stored with loss. The plots (line art and text) must stay exact, and JPEG does not pay
off for the face grids: on the demo-style run of 2026-12-06, JPEG with 4:4:4 chroma came to
0.50-0.82 of a grid's PNG bytes at quality 90 (mean absolute difference 1.7-2.4 grey levels),
0.56-0.90 at quality 92 (1.5-2.2) and 0.78-1.14 at 95 (1.1-1.8). Its faces are 64 px tiles at
their own size between white lines, so a grid is mostly fine detail and sharp edges. The
measurements are in docs/notes/2026-12-06-explorer-size.md.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import re
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

from aegen import AegenError
from aegen.data.dataset import default_cache_dir
from aegen.io import read_json, write_bytes, write_json

IMAGES_DIR = "images"
# Lists the files a report wrote into IMAGES_DIR, so that the next report deletes only its own stale files.
MANIFEST = ".aegen-report.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Pillow's modes that compact_png writes again; others (16-bit, CMYK, ...) are copied as they are.
_COMPACT_MODES = {"1", "L", "LA", "P", "RGB", "RGBA"}


def safe_name(text: str) -> str:
    """A file name made of letters, digits, '.', '_' and '-' only."""
    name = _UNSAFE.sub("-", text).strip("-.")
    return name or "image"


def compact_png(data: bytes) -> bytes:
    """The PNG ``data`` written again without loss and smaller, or ``data`` itself.

    An image whose alpha channel is 255 everywhere loses the channel (RGBA -> RGB, LA -> L);
    the result is compressed again (Pillow's default zlib level) and kept only if it has fewer
    bytes. Its pixels are those of ``data``; only ancillary chunks (text, resolution) are
    dropped. An image that cannot be read, is not a PNG, has several frames, a transparent
    colour or a mode Pillow may not write back as it was is returned unchanged.
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "PNG" or getattr(img, "n_frames", 1) != 1 or img.mode not in _COMPACT_MODES \
                    or "transparency" in img.info:
                return data
            img.load()
            if img.mode in ("RGBA", "LA") and img.getextrema()[-1][0] == 255:
                img = img.convert(img.mode[:-1])
            buffer = io.BytesIO()
            img.save(buffer, format="PNG")
    except (OSError, ValueError):
        return data
    compact = buffer.getvalue()
    return compact if len(compact) < len(data) else data


# Lossless WebP's effort, 0 (fastest) to 6. On the demo-style run of 2026-12-07 (2 shared CPU cores)
# see docs/notes/2026-12-06-explorer-size.md for the bytes and seconds of methods 0, 1 and 2.
WEBP_METHOD = 1
MIME = {"png": "image/png", "webp": "image/webp"}


# A compacted copy depends only on the source bytes and on how it is compacted, so it is kept in
# $AEGEN_CACHE_DIR/report-images/<this key>: a report written again, or another report showing the
# same files, reads it instead of encoding the image again (encoding is about half of the time a
# report of a small run takes). A new Pillow or WebP effort is a new folder.
COMPACTION_KEY = f"png-webp{WEBP_METHOD}-pillow{PIL.__version__}"
# When the cache outgrows this, the entries used longest ago are deleted (at the end of a report).
COMPACTION_CACHE_BYTES = 512 * 2**20
_KINDS = ("webp", "png")


def compaction_cache_dir() -> Path:
    """Where compacted report images are kept: ``$AEGEN_CACHE_DIR/report-images/<COMPACTION_KEY>``."""
    return default_cache_dir() / "report-images" / COMPACTION_KEY


class CompactionCache:
    """:func:`compact_image` of image bytes, kept in ``folder`` by the sha256 of the source bytes.

    An entry is ``<sha256>.<kind>`` holding the sha256 of the compacted bytes (32 bytes), then
    those bytes: a damaged entry fails the check and is encoded again. A folder that cannot be
    read or written makes the cache a pass-through; nothing is ever unpickled.
    """

    def __init__(self, folder: Path | None):
        self.folder = Path(folder) if folder is not None else None

    def compact(self, data: bytes, digest: str | None = None) -> tuple[bytes, str]:
        """(bytes, kind) of :func:`compact_image` of ``data``; ``digest``: its sha256 hex digest if known."""
        if self.folder is None:
            return compact_image(data)
        digest = digest or hashlib.sha256(data).hexdigest()
        for kind in _KINDS:
            entry = self.folder / f"{digest}.{kind}"
            try:
                raw = entry.read_bytes()
            except OSError:
                continue
            intact = len(raw) > 32 and hashlib.sha256(raw[32:]).digest() == raw[:32]
            with contextlib.suppress(OSError):  # a cache we may read but not change still serves
                entry.touch() if intact else entry.unlink()  # touched: recently used, the last pruned
            if intact:
                return raw[32:], kind
        stored, kind = compact_image(data)
        try:
            write_bytes(self.folder / f"{digest}.{kind}", hashlib.sha256(stored).digest() + stored, durable=False)
        except (OSError, AegenError):
            pass  # a read-only or full cache: the report is written all the same
        return stored, kind

    def prune(self, max_bytes: int = COMPACTION_CACHE_BYTES) -> None:
        """Delete the least recently used entries until the folder holds at most ``max_bytes``."""
        if self.folder is None:
            return
        try:
            entries = [(stat.st_mtime, stat.st_size, Path(e.path)) for e in os.scandir(self.folder)
                       if e.is_file() and e.name.rsplit(".", 1)[-1] in _KINDS for stat in (e.stat(),)]
        except OSError:
            return
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= max_bytes:
                break
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            total -= size


def lossless_webp(data: bytes) -> bytes | None:
    """The PNG ``data`` as a lossless WebP with the same pixels, or None.

    None when Pillow cannot write WebP, the image is not an 8-bit RGB, RGBA or grey PNG, or the
    WebP, decoded again, differs from it in any pixel (alpha included; grey is compared as RGB,
    which is how the page shows it).
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "PNG" or img.mode not in ("L", "RGB", "RGBA") or "transparency" in img.info \
                    or getattr(img, "n_frames", 1) != 1:
                return None
            img.load()
            source = img if img.mode != "L" else img.convert("RGB")
            buffer = io.BytesIO()
            source.save(buffer, format="WEBP", lossless=True, quality=100, method=WEBP_METHOD, exact=True)
        webp = buffer.getvalue()
        with Image.open(io.BytesIO(webp)) as back:
            back.load()
            same = back.size == source.size and np.array_equal(np.asarray(back.convert(source.mode)),
                                                               np.asarray(source))
    except (OSError, ValueError, KeyError):
        return None
    return webp if same else None


def compact_image(data: bytes) -> tuple[bytes, str]:
    """The image ``data`` stored without loss in fewer bytes where possible: (bytes, "png" or "webp").

    :func:`compact_png` of it, or its :func:`lossless_webp` when that is smaller; the pixels are
    those of ``data`` either way.
    """
    png = compact_png(data)
    webp = lossless_webp(png)
    return (webp, "webp") if webp is not None and len(webp) < len(png) else (png, "png")


class Assets:
    """Collects the images a report shows.

    ``add(path, name)`` returns the ``src`` for an ``<img>``: ``images/<name>.png`` or
    ``.webp`` (a copy in ``report_dir``) or, with ``embed=True``, a base64 data URI. Each source file is
    stored once however often it is shown, and so is each content: two files with the same
    bytes (a run's sample grid and the evaluation's copy of it) share one image. What is
    stored is :func:`compact_image` of the file: the same pixels in fewer bytes, read from
    ``cache`` (a :class:`CompactionCache`) where an earlier report compacted the same bytes.
    """

    def __init__(self, report_dir: Path, embed: bool = False, source_root: Path | None = None,
                 cache: CompactionCache | None = None):
        self.report_dir = Path(report_dir)
        self.cache = cache if cache is not None else CompactionCache(None)
        self.embed = embed
        self.source_root = Path(source_root).resolve() if source_root is not None else None
        self.written: set[str] = set()
        self._src_by_source: dict[Path, str] = {}
        self._src_by_content: dict[str, str] = {}
        self._sizes: dict[str, tuple[int, int]] = {}
        self._temporary: list[Path] = []  # drawn by add_figure: deleted unless stored

    def name_for(self, path: Path) -> str:
        """'samples/gaussian/grid.png' under the source root -> 'samples-gaussian-grid'."""
        path = Path(path).resolve()
        if self.source_root is not None and path.is_relative_to(self.source_root):
            return safe_name("-".join(path.relative_to(self.source_root).with_suffix("").parts))
        return safe_name(f"{path.parent.name}-{path.stem}")

    def add(self, path: Path, name: str | None = None) -> str:
        """The ``src`` of the PNG at ``path``, stored as ``images/<name>.png`` or ``.webp`` (default :meth:`name_for`)."""
        path = Path(path)
        key = path.resolve()
        if key in self._src_by_source:
            return self._src_by_source[key]
        own = self.report_dir.resolve() / IMAGES_DIR
        if not self.embed and key.parent == own:  # made for the report: already in place
            name = key.stem
        try:
            data = path.read_bytes()
            with Image.open(io.BytesIO(data)) as img:
                size = img.size
        except (OSError, ValueError) as exc:
            raise AegenError(f"cannot read image {path}: {exc}") from None
        digest = hashlib.sha256(data).hexdigest()
        src = self._src_by_content.get(digest)
        if src is None:
            stored, kind = self.cache.compact(data, digest)
            src = self._store(stored, name or self.name_for(path), kind)
        self._src_by_content[digest] = src
        self._src_by_source[key] = src
        self._sizes[src] = size
        return src

    def add_figure(self, fig, name: str) -> Path:
        """Render a matplotlib figure made for the report; returns a path that :meth:`add` accepts.

        The PNG drawn here is what :meth:`add` stores (as itself or as a smaller WebP); the
        drawing is deleted at the end unless it is the stored image.
        """
        from aegen.plots import save_figure

        path = self.report_dir / IMAGES_DIR / f"{safe_name(name)}.png"
        save_figure(fig, path)
        self._temporary.append(path)
        return path

    def size(self, src: str) -> tuple[int, int] | None:
        """(width, height) in pixels of an added image."""
        return self._sizes.get(src)

    def _store(self, data: bytes, name: str, kind: str = "png") -> str:
        if self.embed:
            return f"data:{MIME[kind]};base64," + base64.b64encode(data).decode("ascii")
        stem = safe_name(name)
        file_name, k = f"{stem}.{kind}", 2
        while file_name in self.written and (self.report_dir / IMAGES_DIR / file_name).read_bytes() != data:
            file_name, k = f"{stem}-{k}.{kind}", k + 1
        target = self.report_dir / IMAGES_DIR / file_name
        if not (target.is_file() and target.read_bytes() == data):
            write_bytes(target, data, durable=False)
        self.written.add(file_name)
        return f"{IMAGES_DIR}/{file_name}"

    def remove_stale(self) -> None:
        """Delete the images an earlier report wrote here that this one does not show, and record this one's.

        Only files named in the earlier report's manifest are deleted: other files in the folder are left alone.
        """
        for path in self._temporary:
            if self.embed or path.name not in self.written:
                path.unlink(missing_ok=True)
        self.cache.prune()
        folder = self.report_dir / IMAGES_DIR
        manifest = folder / MANIFEST
        if not folder.is_dir():
            return
        try:
            earlier = read_json(manifest) if manifest.is_file() else []
        except AegenError:
            earlier = []
        for name in earlier if isinstance(earlier, list) else []:
            if isinstance(name, str) and name not in self.written and safe_name(name) == name:
                (folder / name).unlink(missing_ok=True)
        if self.written:
            write_json(manifest, sorted(self.written))
        else:
            manifest.unlink(missing_ok=True)
            if not any(folder.iterdir()):
                folder.rmdir()
