"""Preprocessed datasets: decode a source once into a memory-mappable uint8 cache.

The cache lives under ``$AEGEN_CACHE_DIR`` (default ``~/.cache/aegen``) in a folder keyed by
the source's fingerprint and the preprocessing parameters. ``meta.json`` is written last and
records the image count, so an interrupted build is detected and rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from aegen import AegenError
from aegen.data.images import BadImage, decode_image
from aegen.data.sources import Annotations, FileSource, SyntheticSource, open_source
from aegen.io import atomic_path, load_npz, open_memmap_reserved, read_json, save_npz, write_json

CACHE_VERSION = 2
SUPPORTED_IMAGE_SIZES = (32, 64, 96, 128)
DEFAULT_HELDOUT_FRACTION = 0.1
OFFICIAL_TEST = 2  # list_eval_partition.txt: 0 train, 1 validation, 2 test
# How a held-out set was drawn: the values of ``ImageDataset.split``'s rule (config.json's
# ``data.split_policy``), as the report and the evaluation describe them.
SPLIT_RULES = {
    "identity": "whole people drawn in seeded random order (no person in both sets)",
    "partition": "CelebA's official validation and test partitions",
    "official-test": "CelebA's official test partition (list_eval_partition.txt value 2), whole people of it; "
                     "no image of that partition is trained on",
    "random": "images drawn at random",
}


def default_cache_dir() -> Path:
    return Path(os.environ.get("AEGEN_CACHE_DIR", Path.home() / ".cache" / "aegen"))


@dataclass
class ImageDataset:
    """Preprocessed images with their ids and annotations; rows aligned across arrays."""

    images: np.ndarray                      # (N, S, S, 3) uint8, memory-mapped
    ids: np.ndarray                         # (N,) str
    annotations: Annotations
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)

    def split(self, heldout_fraction: float | None = None, seed: int = 0,
              heldout_size: int | None = None) -> tuple[np.ndarray, np.ndarray, str]:
        """Indices of (train, held-out) rows and the name of the rule used (see :data:`SPLIT_RULES`).

        Give the held-out share as ``heldout_fraction`` or its image count as ``heldout_size``
        (not both; neither: :data:`DEFAULT_HELDOUT_FRACTION`). With a fraction: by identity when identities are known (no person in both
        sets), else CelebA's official partition when it marks present images as val/test, else
        at random by ``seed``. With a size: CelebA's official test partition when at least
        ``heldout_size`` of its images are present (whole people of it, in seeded order; no
        image of the test partition is trained on), else by identity, else at random. A size
        the rule cannot hold out raises AegenError.
        """
        if heldout_size is not None:
            if heldout_fraction is not None:
                raise AegenError("give the held-out set as a fraction or as a size, not both")
            return self._split_by_size(heldout_size, seed)
        if heldout_fraction is None:
            heldout_fraction = DEFAULT_HELDOUT_FRACTION
        if not 0.0 < heldout_fraction < 1.0:
            raise AegenError(f"held-out fraction must be in (0, 1), got {heldout_fraction}")
        n = len(self)
        if n < 2:
            raise AegenError(f"need at least 2 images to split into train and held-out, got {n}")
        rng = np.random.default_rng(seed)
        ann = self.annotations
        heldout = np.zeros(n, dtype=bool)
        if ann.identity is not None and len(np.unique(ann.identity)) >= 2:
            heldout = _whole_people(ann.identity, np.ones(n, dtype=bool), heldout_fraction * n, rng)
            policy = "identity"
        elif ann.partition is not None and 0 < np.count_nonzero(ann.partition) < n:
            heldout = ann.partition != 0
            policy = "partition"
        else:
            k = max(1, int(round(heldout_fraction * n)))
            heldout[rng.permutation(n)[:k]] = True
            policy = "random"
        return np.flatnonzero(~heldout), np.flatnonzero(heldout), policy

    def _split_by_size(self, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
        n = len(self)
        if isinstance(size, bool) or int(size) != size or not 1 <= size < n:
            raise AegenError(f"held-out size must be an integer in 1..{n - 1} (the data has {n} images), got {size}")
        rng = np.random.default_rng(seed)
        ann = self.annotations
        candidates, rule = np.ones(n, dtype=bool), "random"
        if ann.partition is not None and np.count_nonzero(ann.partition == OFFICIAL_TEST) >= size:
            candidates, rule = ann.partition == OFFICIAL_TEST, "official-test"
        if ann.identity is not None and len(np.unique(ann.identity[candidates])) >= 2:
            heldout = _whole_people(ann.identity, candidates, size, rng, leave_one=rule != "official-test")
            rule = "identity" if rule == "random" else rule
            if heldout.sum() < size:
                raise AegenError(f"held-out size {size}: holding out whole people leaves at least one person to "
                                 f"train on, so at most {int(heldout.sum())} of these {n} images can be held out")
            excluded = np.isin(ann.identity, np.unique(ann.identity[heldout]))  # nobody in both sets
        else:
            heldout = np.zeros(n, dtype=bool)
            heldout[np.flatnonzero(candidates)[rng.permutation(int(candidates.sum()))[:size]]] = True
            excluded = heldout
        train = ~excluded & ~candidates if rule == "official-test" else ~excluded
        if rule == "official-test" and not train.any():
            raise AegenError("the data holds only images of CelebA's official test partition: nothing to train on")
        return np.flatnonzero(train), np.flatnonzero(heldout), rule


def _whole_people(identity: np.ndarray, candidates: np.ndarray, target: float, rng: np.random.Generator,
                  leave_one: bool = True) -> np.ndarray:
    """(N,) bool: every image of people drawn from ``candidates`` in seeded order until >= ``target``.

    With ``leave_one``, at least one person among the candidates is left to train on.
    """
    people, counts = np.unique(identity[candidates], return_counts=True)
    order = rng.permutation(len(people))
    cumulative = np.cumsum(counts[order])
    n_people = min(int(np.searchsorted(cumulative, target)) + 1, len(people) - int(leave_one))
    return candidates & np.isin(identity, people[order[:n_people]])


def _cache_key(source, image_size: int, crop: int | None) -> str:
    blob = json.dumps([CACHE_VERSION, source.fingerprint, len(source), image_size, crop], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _decode_all(source: FileSource, out: np.ndarray, image_size: int, progress: bool) -> tuple[np.ndarray, list]:
    """Decode every image of ``source`` into ``out``; returns (ok mask, [(id, reason)] skipped)."""
    ok = np.zeros(len(source), dtype=bool)
    skipped: list[tuple[str, str]] = []

    def work(i: int):
        try:
            return i, decode_image(source.read(i), image_size, source.crop), None
        except BadImage as exc:
            return i, None, str(exc)
        except OSError as exc:
            return i, None, f"cannot read: {exc}"

    bar = tqdm(total=len(source), desc="preprocess", unit="img", disable=not progress, smoothing=0.1)
    # PIL releases the GIL while decoding, so threads use both cores.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for i, image, reason in pool.map(work, range(len(source)), chunksize=64):
            if image is None:
                skipped.append((source.ids[i], reason))
            else:
                out[i] = image
                ok[i] = True
            bar.update()
    bar.close()
    return ok, skipped


def _build_cache(folder: Path, source, annotations: Annotations, image_size: int, progress: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    images_path = folder / "images.npy"
    n = len(source)
    with atomic_path(images_path) as tmp:
        out = open_memmap_reserved(tmp, np.uint8, (n, image_size, image_size, 3))
        if isinstance(source, SyntheticSource):
            from aegen.data.synthetic import render_faces

            ok, skipped = np.ones(n, dtype=bool), []
            batch, labels = 1024, []
            for start in tqdm(range(0, n, batch), desc="render", unit="batch", disable=not progress):
                count = min(batch, n - start)
                out[start:start + count], attrs = render_faces(start, count, image_size, source.seed, source.blur)
                labels.append(attrs)
            annotations.attrs = np.concatenate(labels)
        else:
            ok, skipped = _decode_all(source, out, image_size, progress)
        out.flush()
        del out
        if not ok.all():
            # Compact the good rows to the front so every row of the cache is a real image.
            full = np.load(tmp, mmap_mode="r+", allow_pickle=False)
            keep = np.flatnonzero(ok)
            compact_path = tmp.with_name(tmp.name + ".compact.npy")
            try:
                compact = open_memmap_reserved(compact_path, np.uint8, (len(keep),) + full.shape[1:])
                for start in range(0, len(keep), 4096):
                    compact[start:start + 4096] = full[keep[start:start + 4096]]
                compact.flush()
                del compact, full
                os.replace(compact_path, tmp)
            finally:
                compact_path.unlink(missing_ok=True)
    keep = np.flatnonzero(ok)
    # Annotations are re-read from their files on every load (so an edited file takes effect);
    # the cache keeps only which source rows survived, and the synthetic labels it rendered.
    arrays = {"ids": np.asarray(source.ids)[keep], "source_rows": keep}
    if isinstance(source, SyntheticSource):
        arrays["attrs"] = annotations.attrs[keep]
    save_npz(folder / "annotations.npz", **arrays)
    write_json(folder / "meta.json", {
        "cache_version": CACHE_VERSION, "n_images": int(len(keep)), "n_source": n,
        "n_skipped": len(skipped), "skipped": [{"id": i, "reason": r} for i, r in skipped[:100]],
        "image_size": image_size,
    })


def _load_cache(folder: Path) -> tuple[np.ndarray, dict, dict] | None:
    """The cached arrays, or None if the cache is absent or incomplete (then it is rebuilt)."""
    meta_path, images_path = folder / "meta.json", folder / "images.npy"
    if not (meta_path.exists() and images_path.exists() and (folder / "annotations.npz").exists()):
        return None
    try:
        meta = read_json(meta_path)
        images = np.load(images_path, mmap_mode="r", allow_pickle=False)
        arrays = load_npz(folder / "annotations.npz")
    except (AegenError, ValueError, OSError):
        return None
    if images.shape[0] != meta.get("n_images") or any(len(arrays.get(k, [])) != images.shape[0] for k in ("ids", "source_rows")):
        return None
    return images, arrays, meta


def load_dataset(spec: str, image_size: int = 64, limit: int | None = None,
                 cache_dir: str | os.PathLike | None = None, progress: bool = True) -> ImageDataset:
    """Open ``spec``, preprocess it once into the cache, and return the cached dataset.

    spec: ``celeba:PATH`` (zip or extracted folder, annotations beside it), ``folder:PATH``
    (folder or zip of images) or ``synthetic[:n=N,seed=S,blur=B]`` (blur: Gaussian sigma in pixels softening each image). limit: use only the first N
    images. Corrupt images are skipped and counted in ``info["n_skipped"]``.
    """
    if image_size not in SUPPORTED_IMAGE_SIZES:
        raise AegenError(f"image size must be one of {SUPPORTED_IMAGE_SIZES}, got {image_size}")
    source, annotations, description = open_source(spec, limit)
    crop = getattr(source, "crop", None)
    folder = Path(cache_dir or default_cache_dir()) / _cache_key(source, image_size, crop)
    cached = _load_cache(folder)
    if cached is None:
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        _build_cache(folder, source, annotations, image_size, progress)
        cached = _load_cache(folder)
        if cached is None:
            raise AegenError(f"preprocessing cache at {folder} could not be read back")
    images, arrays, meta = cached
    if meta["n_images"] == 0:
        raise AegenError(f"no usable images in {spec} ({meta['n_skipped']} skipped, e.g. "
                         f"{meta['skipped'][0]['id']}: {meta['skipped'][0]['reason']})")
    rows = arrays["source_rows"]
    ann = Annotations(attr_names=list(annotations.attr_names))
    if isinstance(source, SyntheticSource):
        ann.attrs = arrays["attrs"]
    else:
        for key in ("attrs", "identity", "partition"):
            value = getattr(annotations, key)
            setattr(ann, key, None if value is None else value[rows])
    info = dict(description, spec=spec, image_size=image_size, limit=limit, crop=crop, cache=str(folder),
                n_images=meta["n_images"], n_skipped=meta["n_skipped"], skipped=meta["skipped"][:10])
    return ImageDataset(images=images, ids=arrays["ids"], annotations=ann, info=info)
