"""A trained run folder as a Python object: config, model, z-points, images.

Layout of ``RUN/``: ``config.json`` (everything needed to rebuild the run), ``split.npz``
(train/held-out rows of the dataset), ``checkpoints/last.safetensors``, ``train_log.csv``,
``recon_grid.png``, ``zpoints/{train,heldout}.npy`` with ``{split}_ids.npy``,
``{split}_attrs.npy``, ``attr_names.json`` and the encoding's settings ``encode.json`` beside
them; later steps add ``analysis/``,
``samples/``, ``eval/``, ``attributes/`` and ``report/``.

``config.json`` holds ``data`` (the source, the split and its rule, the preprocessing cache
folder when one was given), ``model`` (the network's hyper-parameters, recorded once) and
``train`` (the training settings). Runs written before the model was recorded once repeat
its fields under ``train``; they open the same way, since the model is read from ``model``.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from aegen import RUN_FORMAT_VERSION, AegenError
from aegen.checkpoint import CHECKPOINT, load_checkpoint
from aegen.io import load_npy, load_npz, read_json
from aegen.model import ConvAutoencoder, ModelConfig, pick_device, to_images, to_tensor

SPLITS = ("train", "heldout")
# File stem of the z-points of the mirrored training faces (aegen encode --mirrored).
MIRRORED = "train_mirrored"


def _check_config(path: Path, config: dict) -> None:
    """Refuse a config.json that lacks what a run needs (a hand-edited or damaged file)."""
    try:
        ModelConfig(**config["model"])
        missing = [key for key in ("spec", "image_size", "limit", "n_images") if key not in config["data"]]
        if missing:
            raise KeyError(f"data.{missing[0]}")
        if not isinstance(config["train"], dict):
            raise TypeError("'train' is not a mapping")
    except (KeyError, TypeError, ValueError) as exc:
        raise AegenError(f"{path} is damaged or incomplete ({type(exc).__name__}: {exc})") from None


def open_run(run: "str | os.PathLike | Run") -> "Run":
    """The :class:`Run` at a path, or ``run`` itself when it already is a run object.

    Anything that is not a path passes through unchanged, so objects with the same methods
    (a test's stand-in run) work wherever a Run does.
    """
    if isinstance(run, (str, os.PathLike)):
        return Run.open(run)
    return run


class Run:
    def __init__(self, path: Path, config: dict):
        self.path = path
        self.config = config
        self._model: ConvAutoencoder | None = None

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Run":
        path = Path(path)
        if not path.is_dir():
            raise AegenError(f"no such run folder: {path}")
        if not (path / "config.json").exists():
            raise AegenError(f"{path} is not an aegen run (no config.json): train one with `aegen train`")
        config = read_json(path / "config.json")
        version = config.get("format_version") if isinstance(config, dict) else None
        if version != RUN_FORMAT_VERSION:
            raise AegenError(f"{path} was written by an incompatible aegen run format "
                             f"({version!r}; this aegen reads {RUN_FORMAT_VERSION})")
        _check_config(path / "config.json", config)
        return cls(path, config)

    @property
    def model_config(self) -> ModelConfig:
        """The network's hyper-parameters, from config.json's ``model``."""
        return ModelConfig(**self.config["model"])

    @property
    def image_size(self) -> int:
        return int(self.config["model"]["image_size"])

    @property
    def z_dim(self) -> int:
        return int(self.config["model"]["z_dim"])

    @property
    def cache_dir(self) -> str | None:
        """The preprocessing cache folder given to ``aegen train --cache-dir``; None: the default one."""
        return self.config["data"].get("cache_dir")

    @property
    def split_rule(self) -> dict:
        """How the held-out set was drawn: ``policy`` (a key of :data:`aegen.data.dataset.SPLIT_RULES`),
        its ``description``, the requested ``heldout_fraction`` or ``heldout_size`` (the other None),
        the split ``seed`` and the resulting ``n_train`` and ``n_heldout``."""
        from aegen.data.dataset import SPLIT_RULES

        data = self.config["data"]
        policy = data.get("split_policy")
        return {"policy": policy, "description": SPLIT_RULES.get(policy, "not recorded"),
                "heldout_fraction": data.get("heldout_fraction"), "heldout_size": data.get("heldout_size"),
                "seed": data.get("split_seed"), "n_train": data.get("n_train"), "n_heldout": data.get("n_heldout")}

    def subdir(self, name: str) -> Path:
        folder = self.path / name
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a read-only or full disk: a one-line error, not a traceback
            raise AegenError(f"cannot create {folder}: {exc.strerror or exc}") from None
        return folder

    # -- model -------------------------------------------------------------------------
    def load_model(self, device: str | torch.device = "cpu") -> ConvAutoencoder:
        if self._model is None:
            model = ConvAutoencoder(self.model_config)
            load_checkpoint(self.path / CHECKPOINT, model)
            self._model = model.eval()
        return self._model.to(device)

    @torch.no_grad()
    def decode(self, Z: np.ndarray, batch_size: int = 256, progress: bool = True, device: str = "auto") -> np.ndarray:
        """Z (n, d) -> (n, S, S, 3) uint8 images."""
        Z = np.asarray(Z, dtype=np.float32)
        if Z.ndim != 2 or Z.shape[1] != self.z_dim:
            raise AegenError(f"z-vectors must have shape (n, {self.z_dim}), got {Z.shape}")
        if not np.all(np.isfinite(Z)):
            raise AegenError(f"{int((~np.isfinite(Z)).any(axis=1).sum())} z-vector(s) contain NaN or Inf")
        dev = pick_device(device)
        model = self.load_model(dev)
        out = np.empty((len(Z), self.image_size, self.image_size, 3), dtype=np.uint8)
        for start in tqdm(range(0, len(Z), batch_size), desc="decode", unit="batch", disable=not progress or len(Z) <= batch_size):
            out[start:start + batch_size] = to_images(model.decode(torch.tensor(Z[start:start + batch_size], device=dev)))
        return out

    @torch.no_grad()
    def encode_images(self, images: np.ndarray, batch_size: int = 256, progress: bool = True, device: str = "auto") -> np.ndarray:
        """(n, S, S, 3) uint8 -> (n, d) float32 z-points."""
        if images.ndim != 4 or images.shape[1:] != (self.image_size, self.image_size, 3):
            raise AegenError(f"images must have shape (n, {self.image_size}, {self.image_size}, 3), got {images.shape}")
        dev = pick_device(device)
        model = self.load_model(dev)
        out = np.empty((len(images), self.z_dim), dtype=np.float32)
        for start in tqdm(range(0, len(images), batch_size), desc="encode", unit="batch", disable=not progress or len(images) <= batch_size):
            out[start:start + batch_size] = model.encode(to_tensor(images[start:start + batch_size], dev)).float().cpu().numpy()
        return out

    # -- data --------------------------------------------------------------------------
    @cached_property
    def split_index(self) -> dict[str, np.ndarray]:
        arrays = load_npz(self.path / "split.npz")
        return {"train": arrays["train_index"], "heldout": arrays["heldout_index"],
                "train_ids": arrays["train_ids"], "heldout_ids": arrays["heldout_ids"]}

    @cached_property
    def dataset(self):
        from aegen.data import load_dataset

        data = self.config["data"]
        dataset = load_dataset(data["spec"], data["image_size"], data["limit"], self.cache_dir)
        if len(dataset) != data["n_images"]:
            raise AegenError(f"the data behind {self.path} changed: {len(dataset)} images now, "
                             f"{data['n_images']} when the run was trained ({data['spec']})")
        return dataset

    def _check_split(self, split: str) -> None:
        if split not in SPLITS:
            raise AegenError(f"split must be one of {SPLITS}, got {split!r}")

    def images(self, split: str = "heldout") -> np.ndarray:
        """(N, S, S, 3) uint8 images of ``split``, rows aligned with :meth:`zpoints`."""
        self._check_split(split)
        return self.dataset.images[self.split_index[split]]

    # -- z-points ----------------------------------------------------------------------
    def zpoints(self, split: str = "train") -> np.ndarray:
        """(N, d) float32 z-points of ``split`` (memory-mapped); written by ``aegen encode``."""
        self._check_split(split)
        path = self.path / "zpoints" / f"{split}.npy"
        if not path.exists():
            raise AegenError(f"no z-points in {self.path}: run `aegen encode {self.path}` first")
        Z = load_npy(path, mmap=True)
        if Z.ndim != 2 or Z.shape[1] != self.z_dim:
            raise AegenError(f"{path} has shape {Z.shape}, expected (N, {self.z_dim})")
        return Z

    def mirrored_zpoints(self) -> np.ndarray:
        """(N_train, d) float32 z-points of the training faces flipped left to right (memory-mapped).

        Rows align with ``zpoints("train")``; written by ``aegen encode --mirrored``.
        """
        path = self.path / "zpoints" / f"{MIRRORED}.npy"
        if not path.exists():
            raise AegenError(f"no mirrored z-points in {self.path}: run `aegen encode {self.path} --mirrored` first")
        Z = load_npy(path, mmap=True)
        if Z.shape != (len(self.split_index["train"]), self.z_dim):
            raise AegenError(f"{path} has shape {Z.shape}, expected ({len(self.split_index['train'])}, {self.z_dim}): "
                             f"run `aegen encode {self.path} --mirrored` again")
        return Z

    def zpoint_meta(self, split: str = "train") -> dict:
        self._check_split(split)
        folder = self.path / "zpoints"
        attrs_path = folder / f"{split}_attrs.npy"
        return {
            "ids": load_npy(folder / f"{split}_ids.npy"),
            "attrs": load_npy(attrs_path) if attrs_path.exists() else None,
            "attr_names": read_json(folder / "attr_names.json") if attrs_path.exists() else [],
        }
