"""Training the autoencoder: a plain reconstruction loop, resumable and reproducible.

Epoch ``e`` shuffles with a generator seeded by ``(seed, e)`` and a checkpoint holds the
weights, the optimizer moments and the epoch, so a resumed run (even one killed mid-epoch)
replays exactly the batches of an uninterrupted one and ends with the same weights on CPU.
Under ``torchrun`` each rank takes its share of every batch and rank 0 writes the files.
"""

from __future__ import annotations

import csv
import io
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from aegen import RUN_FORMAT_VERSION, AegenError, __version__
from aegen.checkpoint import load_checkpoint, save_checkpoint
from aegen.data import load_dataset
from aegen.distributed import DistContext
from aegen.io import read_json, save_npz, write_json, write_text
from aegen.model import ConvAutoencoder, ModelConfig
from aegen.plots import save_image_grid

CHECKPOINT = "checkpoints/last.safetensors"
LOG_COLUMNS = ["epoch", "train_mse", "heldout_mse", "images_per_s", "epoch_seconds", "lr"]


@dataclass
class TrainConfig:
    data: str = "synthetic"
    out: str = "runs/aegen"
    image_size: int = 64
    z_dim: int = 256
    channels: tuple[int, ...] = (32, 64, 128, 256)
    kernel_size: int = 4
    batch_norm: bool = True
    activation: str = "leaky_relu"
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    limit: int | None = None
    heldout_fraction: float = 0.1
    resume: bool = False
    progress: bool = True
    cache_dir: str | None = None

    def model_config(self) -> ModelConfig:
        return ModelConfig(self.image_size, self.z_dim, self.channels, self.kernel_size, self.batch_norm, self.activation)


# Changing any of these would make a resumed run a different run.
FIXED_ON_RESUME = ("data", "image_size", "z_dim", "channels", "kernel_size", "batch_norm", "activation",
                   "batch_size", "lr", "seed", "limit", "heldout_fraction")


def pick_device(name: str = "auto") -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(B, S, S, 3) uint8 -> (B, 3, S, S) float in [0, 1] on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float().div_(255.0)


def to_images(x: torch.Tensor) -> np.ndarray:
    """(B, 3, S, S) float in [0, 1] -> (B, S, S, 3) uint8."""
    return (x.detach().float().clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy())


@torch.no_grad()
def heldout_mse(model: torch.nn.Module, images: np.ndarray, device: torch.device, batch_size: int = 256) -> float:
    model.eval()
    total = 0.0
    for start in range(0, len(images), batch_size):
        x = to_tensor(images[start:start + batch_size], device)
        total += torch.nn.functional.mse_loss(model(x), x, reduction="sum").item()
    model.train()
    return total / (len(images) * images[0].size)


def _prepare_run(cfg: TrainConfig, out: Path, dataset, split, device: torch.device) -> None:
    train_idx, heldout_idx, policy = split
    config = {
        "format_version": RUN_FORMAT_VERSION, "aegen_version": __version__,
        "data": {"spec": cfg.data, "image_size": cfg.image_size, "limit": cfg.limit,
                 "heldout_fraction": cfg.heldout_fraction, "split_seed": cfg.seed, "split_policy": policy,
                 "n_images": len(dataset), "n_train": len(train_idx), "n_heldout": len(heldout_idx),
                 "n_skipped": dataset.info["n_skipped"], "crop": dataset.info["crop"],
                 "attr_names": dataset.annotations.attr_names},
        "model": cfg.model_config().to_dict(),
        "train": {k: v for k, v in asdict(cfg).items() if k not in ("out", "progress", "resume", "cache_dir")},
        "device": str(device), "torch_version": torch.__version__,
    }
    write_json(out / "config.json", config)
    save_npz(out / "split.npz", train_index=train_idx, heldout_index=heldout_idx,
             train_ids=dataset.ids[train_idx], heldout_ids=dataset.ids[heldout_idx])


def _check_resume(cfg: TrainConfig, out: Path, write: bool) -> None:
    """Refuse a resume that would change the run; record a new epoch count."""
    saved = read_json(out / "config.json")
    if saved.get("format_version") != RUN_FORMAT_VERSION:
        raise AegenError(f"{out} was written by an incompatible aegen run format ({saved.get('format_version')})")
    for key in FIXED_ON_RESUME:
        was, now = saved["train"].get(key), getattr(cfg, key)
        if (list(was) if isinstance(was, (list, tuple)) else was) != (list(now) if isinstance(now, tuple) else now):
            raise AegenError(f"--resume with a different {key} ({was!r} in {out}, {now!r} now)")
    if write and saved["train"]["epochs"] != cfg.epochs:
        saved["train"]["epochs"] = cfg.epochs
        write_json(out / "config.json", saved)


def _write_log(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LOG_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def _read_log(path: Path, upto_epoch: int) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return [row for row in csv.DictReader(fh) if int(row["epoch"]) <= upto_epoch]


def _save_recon_grid(model, images: np.ndarray, device, path: Path) -> None:
    model.eval()
    with torch.no_grad():
        recon = to_images(model(to_tensor(images, device)))
    model.train()
    rows = [np.concatenate([images[i:i + 8], recon[i:i + 8]]) for i in range(0, len(images), 8)]
    save_image_grid(path, np.concatenate(rows), ncols=8, scale=2)


def train(cfg: TrainConfig) -> Path:
    """Train an autoencoder as ``cfg`` says and return the run folder."""
    dist = DistContext.from_env()
    torch.manual_seed(cfg.seed)
    device = dist.device if dist.active else pick_device(cfg.device)
    out = Path(cfg.out)
    if cfg.resume and not (out / CHECKPOINT).exists():
        raise AegenError(f"--resume: no checkpoint in {out}")
    if not cfg.resume and (out / CHECKPOINT).exists():
        raise AegenError(f"{out} already holds a trained run: use --resume or another --out")
    if cfg.epochs < 1 or cfg.batch_size < 1 or not cfg.lr > 0:
        raise AegenError("--epochs and --batch-size must be at least 1 and --lr positive")

    with dist.main_first():  # one process builds the preprocessing cache, the others then read it
        dataset = load_dataset(cfg.data, cfg.image_size, cfg.limit, cfg.cache_dir, progress=cfg.progress and dist.is_main)
    split = dataset.split(cfg.heldout_fraction, cfg.seed)
    train_idx, heldout_idx, _ = split
    if cfg.resume:
        _check_resume(cfg, out, write=dist.is_main)
    elif dist.is_main:
        _prepare_run(cfg, out, dataset, split, device)

    model = ConvAutoencoder(cfg.model_config()).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    start_epoch = load_checkpoint(out / CHECKPOINT, model, optimizer) if cfg.resume else 0
    ddp_model = dist.wrap(model)
    log_rows = _read_log(out / "train_log.csv", start_epoch)
    heldout = dataset.images[np.sort(heldout_idx)]
    amp = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")

    for epoch in range(start_epoch, cfg.epochs):
        order = train_idx[np.random.default_rng([cfg.seed, epoch]).permutation(len(train_idx))]
        batches = range(0, len(order), cfg.batch_size)
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", disable=not (cfg.progress and dist.is_main))
        t0, seen, loss_sum = time.perf_counter(), 0, 0.0
        for start in bar:
            batch = order[start:start + cfg.batch_size]
            if not dist.usable_batch(len(batch)):
                continue  # fewer rows than ranks: every rank must take part in a step
            rows = dist.shard_rows(batch)
            x = to_tensor(dataset.images[np.sort(rows)], device)
            with amp:
                loss = torch.nn.functional.mse_loss(ddp_model(x), x)
            optimizer.zero_grad(set_to_none=True)
            (loss * dist.loss_weight(len(rows), len(batch))).backward()
            optimizer.step()
            seen += len(batch)
            loss_sum += loss.item() * len(rows)
            bar.set_postfix(mse=f"{loss.item():.5f}", img_s=f"{seen / (time.perf_counter() - t0):.0f}")
        seconds = time.perf_counter() - t0
        if dist.is_main:
            save_checkpoint(out / CHECKPOINT, model, optimizer, epoch + 1)
            log_rows.append({"epoch": epoch + 1, "train_mse": loss_sum / max(seen // dist.world_size, 1),
                             "heldout_mse": heldout_mse(model, heldout, device), "images_per_s": seen / seconds,
                             "epoch_seconds": seconds, "lr": cfg.lr})
            _write_log(out / "train_log.csv", log_rows)
            _save_recon_grid(model, heldout[:32], device, out / "recon_grid.png")
            if cfg.progress:
                r = log_rows[-1]
                tqdm.write(f"epoch {epoch + 1}: train mse {r['train_mse']:.5f}, held-out mse {r['heldout_mse']:.5f}, "
                           f"{r['images_per_s']:.0f} img/s")
        dist.barrier()
    dist.close()
    return out
