"""Encoding a run's images into z-points, streamed in blocks so memory stays bounded.

Memory: the images come from the memory-mapped preprocessing cache and the z-points go
straight into a memory-mapped ``.npy``, so at most one block of ``BLOCK`` images (per rank)
and its z-points are in memory, whatever the size of the data set.

Under ``torchrun`` every rank encodes a contiguous share of each block and rank 0 gathers
the shares (as tensors, in rank order) and writes every file; the result is the same file a
single process writes. Encoding runs the model in eval mode, where each image's z-point
depends on that image only, so splitting the work changes nothing but the speed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm.auto import tqdm

from aegen.config import option
from aegen.distributed import DistContext
from aegen.io import atomic_path, open_memmap_reserved, read_json, save_npy, write_json
from aegen.run import MIRRORED, SPLITS, Run

BLOCK = 4096
# What the encoding recorded, beside the z-points it wrote.
SETTINGS_FILE = "encode.json"


@dataclass(frozen=True)
class EncodeConfig:
    """What ``aegen encode`` takes: the keywords of :func:`encode_run`, each an option, checked here."""

    batch_size: int = field(default=256, metadata=option("--batch-size", "images per encoder batch"))
    device: str = field(default="auto", metadata=option("--device", "auto (cuda, then mps, then cpu), cpu, cuda, mps"))
    mirrored: bool = field(default=False, metadata=option(
        "--mirrored", "also write zpoints/train_mirrored.npy: the training faces flipped left to right, "
                      "extra points a sampler can fit with --param fit_on=train+mirrored"))

    def __post_init__(self):
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size (--batch-size) must be an integer >= 1, got {self.batch_size!r}")

    def keywords(self) -> dict:
        """The keywords of :func:`encode_run` (every field)."""
        return asdict(self)

    @classmethod
    def of_run(cls, run_path: str | Path) -> "EncodeConfig":
        """The config the run's z-points were encoded with: ``zpoints/encode.json``; a run encoded
        before it was written records only whether the mirrored faces were encoded (their file)."""
        folder = Path(run_path) / "zpoints"
        if (folder / SETTINGS_FILE).is_file():
            recorded = read_json(folder / SETTINGS_FILE)
            return cls(**{name: recorded[name] for name in asdict(cls()) if name in recorded})
        return cls(mirrored=(folder / f"{MIRRORED}.npy").is_file())


def _encoded_blocks(run: Run, images: np.ndarray, rows: np.ndarray, dist: DistContext, batch_size: int,
                    device: str, bar: tqdm, mirrored: bool = False) -> Iterator[tuple[int, np.ndarray | None]]:
    """Yield (first row, (n, d) float32 z-points) for consecutive blocks of ``rows``.

    Each block spans ``BLOCK`` rows per rank; rank r encodes the r-th contiguous part. The
    z-points are yielded on rank 0 and None on the other ranks. ``mirrored`` encodes the
    images flipped left to right.
    """
    span = BLOCK * dist.world_size
    for start in range(0, len(rows), span):
        block = rows[start:start + span]
        mine = np.array_split(block, dist.world_size)[dist.rank]
        Z = np.empty((0, run.z_dim), dtype=np.float32)
        if len(mine):
            block_images = images[mine][:, :, ::-1] if mirrored else images[mine]
            Z = run.encode_images(np.ascontiguousarray(block_images), batch_size, progress=False, device=device)
        gathered = dist.gather_rows(Z)
        bar.update(len(block))
        yield start, gathered


def encode_run(run: Run, batch_size: int = 256, progress: bool = True, device: str = "auto",
               mirrored: bool = False) -> Path:
    """Write ``RUN/zpoints/{split}.npy`` (N, d) float32 with ids and attributes beside them,
    and the settings (:class:`EncodeConfig`) in ``RUN/zpoints/encode.json``.

    ``mirrored`` also writes ``RUN/zpoints/train_mirrored.npy``: the z-points of the training
    faces flipped left to right, rows aligned with ``train.npy``. A mirrored face is a face,
    so these are extra points for a sampler to fit (``fit_on="train+mirrored"``, see
    :mod:`aegen.sample`); they are never used as held-out data.

    Returns the folder ``RUN/zpoints``. Under ``torchrun`` the ranks share the encoding and
    rank 0 writes; all ranks return once the files are complete.
    """
    config = EncodeConfig(batch_size=batch_size, device=device, mirrored=mirrored)
    dist = DistContext.from_env()
    if dist.active:
        device = str(dist.device)
    with dist.main_first():
        dataset = run.dataset  # may build the preprocessing cache: once, on rank 0 first
    out = run.path / "zpoints"  # created by the first atomic write, which reports a read-only disk
    # (file stem, split, mirrored): the splits, then the mirrored training faces when asked.
    jobs = [(split, split, False) for split in SPLITS] + ([(MIRRORED, "train", True)] if mirrored else [])
    total = sum(len(run.split_index[split]) for _, split, _ in jobs)
    # A context manager: on an error the bar ends its line before the error is printed.
    with tqdm(total=total, desc="encode", unit="img", disable=not (progress and dist.is_main)) as bar:
        for stem, split, flip in jobs:
            rows = run.split_index[split]
            blocks = _encoded_blocks(run, dataset.images, rows, dist, batch_size, device, bar, mirrored=flip)
            if not dist.is_main:
                for _ in blocks:
                    pass  # this rank's share goes to rank 0 inside the generator
                continue
            with atomic_path(out / f"{stem}.npy") as tmp:
                Z = open_memmap_reserved(tmp, np.float32, (len(rows), run.z_dim))
                for start, block in blocks:
                    Z[start:start + len(block)] = block
                Z.flush()
                del Z
            if flip:
                continue  # ids and attributes are those of train.npy, row for row
            save_npy(out / f"{split}_ids.npy", dataset.ids[rows])
            if dataset.annotations.attrs is not None:
                save_npy(out / f"{split}_attrs.npy", dataset.annotations.attrs[rows])
    if dist.is_main and not mirrored:
        (out / f"{MIRRORED}.npy").unlink(missing_ok=True)  # made by the previous encoding: stale now
    if dist.is_main and dataset.annotations.attrs is not None:
        write_json(out / "attr_names.json", dataset.annotations.attr_names)
    if dist.is_main:
        write_json(out / SETTINGS_FILE, config.keywords())
    dist.close()  # the other ranks return only once rank 0's files are in place
    return out
