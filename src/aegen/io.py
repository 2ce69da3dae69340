"""Safe, atomic file I/O.

Every artifact is written to a temporary file in the same folder and renamed into place,
so a crash never leaves a truncated file that a later step would trust. Loading never
unpickles: arrays go through ``np.load(allow_pickle=False)``, metadata through JSON,
weights through safetensors.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from aegen import AegenError

# mkstemp creates files readable by the owner only; artifacts get the usual umask mode.
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` when the block succeeds.

    The temporary keeps the suffix of ``path`` so that libraries which look at the suffix
    (``np.save``, matplotlib) write the right format. ``durable``: flush the file to the disk
    before the rename, so that it survives a power cut too. Without it the rename is just as
    atomic for any process that reads the file; pictures drawn from files the run keeps pass
    False (a report or an analysis writes dozens, and each flush costs milliseconds).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    except OSError as exc:
        raise AegenError(f"cannot write {path}: {exc.strerror or exc}") from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if durable:
            with open(tmp_path, "rb+") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp_path, FILE_MODE)
        os.replace(tmp_path, path)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        raise AegenError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes, durable: bool = True) -> None:
    with atomic_path(path, durable) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default, allow_nan=True) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AegenError(f"missing file: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AegenError(f"corrupt JSON file {path}: {exc}") from None


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Save one array atomically (``.npy``, never pickled object arrays)."""
    array = np.asarray(array)
    if array.dtype == object:
        raise TypeError("object arrays are not saved: they would need pickle")
    with atomic_path(path) as tmp:
        np.save(tmp, array, allow_pickle=False)


def _npy_layout(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, expected file size in bytes) from the header of a ``.npy`` file."""
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(fh)
        data_start = fh.tell()
    return shape, dtype, data_start + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize


def load_npy(path: str | os.PathLike, mmap: bool = False) -> np.ndarray:
    """Load an array saved by :func:`save_npy`; never unpickles, names the file on failure.

    The file's size is checked against its header first, so a truncated file is named as
    such instead of surfacing as a reshape or mmap error.
    """
    path = Path(path)
    if not path.exists():
        raise AegenError(f"missing file: {path}")
    try:
        shape, dtype, expected = _npy_layout(path)
    except (ValueError, OSError, EOFError) as exc:
        raise AegenError(f"corrupt or truncated array file {path}: {exc}") from None
    if dtype.hasobject:
        raise AegenError(f"refusing {path}: it holds Python objects, which would need unpickling")
    size = path.stat().st_size
    if size != expected:
        raise AegenError(f"corrupt or truncated array file {path}: {size} bytes, expected {expected} "
                         f"for a {dtype} array of shape {shape}")
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as exc:
        raise AegenError(f"refusing {path}: {exc}") from None
    except (OSError, EOFError) as exc:
        raise AegenError(f"corrupt or truncated array file {path}: {exc}") from None


def open_memmap_reserved(path: str | os.PathLike, dtype, shape: tuple[int, ...]) -> np.memmap:
    """A new ``.npy`` memory map at ``path`` whose disk blocks are allocated up front.

    Without the reservation the file is sparse, and on a full disk the first write into a
    page the filesystem cannot back kills the process with SIGBUS; reserving turns a full
    disk into an ``OSError`` (ENOSPC) here, which :func:`atomic_path` reports in one line.
    """
    array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    if hasattr(os, "posix_fallocate"):
        with open(path, "r+b") as fh:
            try:
                os.posix_fallocate(fh.fileno(), 0, os.fstat(fh.fileno()).st_size)
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOSYS):
                    raise  # a filesystem that cannot reserve is left to allocate as it writes
    return array


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **{k: np.asarray(v) for k, v in arrays.items()})


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.exists():
        raise AegenError(f"missing file: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ValueError as exc:
        raise AegenError(f"refusing {path}: {exc}") from None
    except (OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise AegenError(f"corrupt or truncated archive {path}: {exc}") from None


def save_tensors(path: str | os.PathLike, tensors: dict, metadata: dict[str, str] | None = None) -> None:
    """Write torch ``tensors`` (name -> tensor; copied to the CPU, contiguous) to a safetensors file, atomically.

    ``metadata``: string to string, kept in the file's header.
    """
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    tensors = {name: value.detach().cpu().contiguous() for name, value in tensors.items()}
    with atomic_path(path) as tmp:
        try:
            save_file(tensors, str(tmp), metadata=metadata)
        except SafetensorError as exc:
            # safetensors reports I/O failures (a full disk) in its own type, not as OSError;
            # as an OSError, atomic_path removes the partial file and names the target.
            raise OSError(str(exc)) from None


def load_tensors(path: str | os.PathLike, what: str = "tensor file") -> tuple[dict, dict[str, str]]:
    """(tensors on the CPU, header metadata) of a safetensors file; never unpickles.

    AegenError naming ``what`` and the path when the file is missing, truncated or not
    safetensors at all.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.exists():
        raise AegenError(f"missing {what}: {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            return {name: fh.get_tensor(name) for name in fh.keys()}, dict(fh.metadata() or {})
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise AegenError(f"corrupt or truncated {what} {path}: not a readable safetensors file ({exc})") from None


def file_digest(path: str | os.PathLike, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    """Hex digest of a file's bytes (``algorithm``: any hashlib name), read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
