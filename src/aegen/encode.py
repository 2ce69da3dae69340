"""Encoding a run's images into z-points, streamed in batches so memory stays bounded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from aegen.io import atomic_path, save_npy, write_json
from aegen.run import SPLITS, Run

BLOCK = 4096


def encode_run(run: Run, batch_size: int = 256, progress: bool = True, device: str = "auto") -> Path:
    """Write ``RUN/zpoints/{split}.npy`` (N, d) float32 with ids and attributes beside them."""
    out = run.subdir("zpoints")
    dataset = run.dataset
    bar = tqdm(total=sum(len(run.split_index[s]) for s in SPLITS), desc="encode", unit="img", disable=not progress)
    for split in SPLITS:
        rows = run.split_index[split]
        path = out / f"{split}.npy"
        with atomic_path(path) as tmp:
            Z = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(rows), run.z_dim))
            # Blocks of the memory-mapped cache: never more than BLOCK images in memory.
            for start in range(0, len(rows), BLOCK):
                block = dataset.images[rows[start:start + BLOCK]]
                Z[start:start + BLOCK] = run.encode_images(block, batch_size, progress=False, device=device)
                bar.update(len(block))
            Z.flush()
            del Z
        save_npy(out / f"{split}_ids.npy", dataset.ids[rows])
        if dataset.annotations.attrs is not None:
            save_npy(out / f"{split}_attrs.npy", dataset.annotations.attrs[rows])
    bar.close()
    if dataset.annotations.attrs is not None:
        write_json(out / "attr_names.json", dataset.annotations.attr_names)
    return out
