"""Training the autoencoder: a plain reconstruction loop, resumable and reproducible.

Epoch ``e`` shuffles with a generator seeded by ``(seed, e)`` and a checkpoint holds the
weights, the optimizer moments and the epoch, so a resumed run (even one killed mid-epoch)
replays exactly the batches of an uninterrupted one and ends with the same weights on CPU.
Under ``torchrun`` each rank takes its share of every batch and rank 0 writes the files.

The seed's autoencoder trains on the reconstruction MSE alone. Six options, all off by
default, train the decoder for the vectors a sampler gives it (README, "A latent space that
can be sampled"): noise on the decoder's input, an L2 penalty on z, a gradient penalty on the
decoder (``ModelConfig.spectral_norm`` is the other smoothness option), random horizontal
flips, and adversarial terms (:mod:`aegen.adversarial`: a patch discriminator trained beside
the autoencoder from ``adversarial_start`` on) for sharper reconstructions and for faces
decoded from Gaussian draws around the batch's codes.
Their random draws come from generators seeded by (seed, epoch, rank), so a resumed run
replays them exactly.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from aegen import RUN_FORMAT_VERSION, AegenError, __version__
from aegen.adversarial import Critic, Shard, adaptive_weight, last_decoder_weight
from aegen.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from aegen.config import dataclass_default
from aegen.data import load_dataset
from aegen.distributed import DistContext
from aegen.io import load_npz, read_json, save_npz, write_json, write_text
from aegen.model import ConvAutoencoder, ModelConfig, pick_device, to_images, to_tensor
from aegen.plots import save_image_grid
from aegen.train_config import (  # noqa: F401  (PRESETS: read from here too)
    FIXED_ON_RESUME, MODEL_FIELDS, PRESETS, SETTINGS_OF_OLDER_RUNS, TrainConfig)

# critic_loss: the discriminator's mean hinge loss over the epoch (empty without --adversarial; 2: chance).
LOG_COLUMNS = ["epoch", "train_mse", "heldout_mse", "images_per_s", "epoch_seconds", "lr", "critic_loss"]


@torch.no_grad()
def heldout_mse(model: torch.nn.Module, images: np.ndarray, device: torch.device, batch_size: int = 256) -> float:
    model.eval()
    total = 0.0
    for start in range(0, len(images), batch_size):
        x = to_tensor(images[start:start + batch_size], device)
        total += torch.nn.functional.mse_loss(model(x), x, reduction="sum").item()
    model.train()
    return total / (len(images) * images[0].size)


def _cache_dir_record(cache_dir: str | os.PathLike | None) -> str | None:
    """An explicit cache folder as an absolute path (later commands may run elsewhere); None: the default."""
    return os.path.abspath(os.path.expanduser(cache_dir)) if cache_dir else None


def _prepare_run(cfg: TrainConfig, out: Path, dataset, split, device: torch.device) -> None:
    train_idx, heldout_idx, policy = split
    config = {
        "format_version": RUN_FORMAT_VERSION, "aegen_version": __version__,
        "data": {"spec": cfg.data, "image_size": cfg.model.image_size, "limit": cfg.limit,
                 "heldout_fraction": cfg.heldout_fraction, "heldout_size": cfg.heldout_size,
                 "split_seed": cfg.seed, "split_policy": policy,
                 "n_images": len(dataset), "n_train": len(train_idx), "n_heldout": len(heldout_idx),
                 "n_skipped": dataset.info["n_skipped"], "crop": dataset.info["crop"],
                 "attr_names": dataset.annotations.attr_names, "cache_dir": _cache_dir_record(cfg.cache_dir)},
        "model": cfg.model.to_dict(),
        "train": cfg.settings(),
        "device": str(device), "torch_version": torch.__version__,
    }
    write_json(out / "config.json", config)
    save_npz(out / "split.npz", train_index=train_idx, heldout_index=heldout_idx,
             train_ids=dataset.ids[train_idx], heldout_ids=dataset.ids[heldout_idx])


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def _resumed_config(cfg: TrainConfig, out: Path, write: bool) -> TrainConfig:
    """Refuse a resume that would change the run; record a new epoch count or cache folder.

    Returns ``cfg`` with the run's recorded cache folder when none is given. Works on the
    config.json of older runs too, which repeat the model's fields under ``train``.
    """
    saved = read_json(out / "config.json")
    if not isinstance(saved, dict) or saved.get("format_version") != RUN_FORMAT_VERSION:
        version = saved.get("format_version") if isinstance(saved, dict) else None
        raise AegenError(f"{out} was written by an incompatible aegen run format ({version})")
    for key in FIXED_ON_RESUME:
        # A setting that runs of older aegen versions lack had its default then.
        if key in MODEL_FIELDS:  # a model field newer than the run has its default (the behaviour it had)
            was = (saved.get("model") or {}).get(key, dataclass_default(ModelConfig, key))
        else:
            was = saved["train"].get(key, SETTINGS_OF_OLDER_RUNS.get(key))
        now = getattr(cfg, key)
        if _as_list(was) != _as_list(now):
            raise AegenError(f"--resume with a different {key} ({was!r} in {out}, {now!r} now)")
    recorded = saved["data"].get("cache_dir")
    if cfg.cache_dir is None and recorded:
        cfg = replace(cfg, cache_dir=recorded)
    changed = saved["train"]["epochs"] != cfg.epochs or recorded != _cache_dir_record(cfg.cache_dir)
    if write and changed:
        saved["train"]["epochs"] = cfg.epochs
        saved["data"]["cache_dir"] = _cache_dir_record(cfg.cache_dir)
        write_json(out / "config.json", saved)
    return cfg


def _recorded_split(out: Path, n_images: int) -> tuple[np.ndarray, np.ndarray]:
    """The (train, held-out) rows a resumed run was started with, from its split.npz."""
    arrays = load_npz(out / "split.npz")
    train_idx, heldout_idx = arrays["train_index"], arrays["heldout_index"]
    if max(train_idx.max(initial=-1), heldout_idx.max(initial=-1)) >= n_images:
        raise AegenError(f"{out / 'split.npz'} names rows beyond the {n_images} images of the data: "
                         "did the data change since the run was started?")
    return train_idx, heldout_idx


def learning_rate(cfg: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """The learning rate of optimiser step ``step`` (0-based, counted over the whole run)."""
    if cfg.lr_schedule == "cosine":
        total = max(cfg.epochs * steps_per_epoch, 1)
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    return cfg.lr


class TrainingObjective(torch.nn.Module):
    """The loss of one batch: reconstruction MSE plus the options of ``cfg`` that are on.

    A module (not a function) so that DistributedDataParallel wraps the whole objective and
    its gradient hooks see every parameter. ``forward(x, generator, critic)`` takes images
    (B, 3, S, S), the generator of the step's random draws and, when an adversarial term is
    on for this step, the :class:`~aegen.adversarial.Critic` (and under torchrun this rank's
    :class:`~aegen.adversarial.Shard` of the batch); returns (loss, mse, fakes):
    fakes are the images the critic then learns to call not real (the reconstructions, and
    with ``adversarial_prior`` the decoded Gaussian draws, or those alone).
    """

    def __init__(self, model: ConvAutoencoder, cfg: TrainConfig):
        super().__init__()
        self.model = model
        self.latent_noise, self.z_l2, self.decoder_gp = cfg.latent_noise, cfg.z_l2, cfg.decoder_gp
        self.adversarial, self.adversarial_prior = cfg.adversarial, cfg.adversarial_prior

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None, critic: Critic | None = None,
                shard: Shard | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = self.model.encode(x)
        z_in = z
        if self.latent_noise > 0 and len(z) > 1:  # one code has no spread: a batch of one trains without noise
            # The spread is a constant of the step (detached): the noise must not teach the
            # encoder to shrink or grow its codes.
            spread = z.detach().float().std(dim=0, keepdim=True)
            z_in = z + self.latent_noise * spread * _randn(z.shape, generator, z)
        recon = self.model.decode(z_in)
        mse = torch.nn.functional.mse_loss(recon, x)
        loss = mse
        if self.z_l2 > 0:
            loss = loss + self.z_l2 * z.float().pow(2).mean()
        if self.decoder_gp > 0:
            # E_v ||J^T v||^2 = ||J||_F^2 for v ~ N(0, I): one projection per image, and a graph
            # kept through the gradient so the penalty itself is differentiated.
            v = _randn(recon.shape, generator, recon)
            (grad,) = torch.autograd.grad((recon * v).sum(), z_in, create_graph=True)
            loss = loss + self.decoder_gp * grad.float().pow(2).sum(dim=1).mean() / recon[0].numel()
        fakes = recon  # what the critic step is shown as not real: reconstructions, then prior draws
        if critic is not None and self.adversarial > 0:
            fooled = critic.decoder_loss(recon)
            scale = adaptive_weight(mse, fooled, last_decoder_weight(self.model), shard)
            loss = loss + self.adversarial * scale * fooled
        if critic is not None and self.adversarial_prior > 0 and len(z) > 1:
            drawn = self.model.decode(batch_gaussian_draws(z.detach(), generator))
            fooled = critic.decoder_loss(drawn)
            scale = adaptive_weight(mse, fooled, last_decoder_weight(self.model))
            loss = loss + self.adversarial_prior * scale * fooled
            fakes = torch.cat([recon, drawn]) if self.adversarial > 0 else drawn
        return loss, mse, fakes


def batch_gaussian_draws(z: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """(B, d) codes -> (B, d) draws from the Gaussian with the batch's mean and covariance.

    Each draw is ``mean + w @ (z - mean) / sqrt(B - 1)`` with ``w ~ N(0, I_B)``: exactly
    N(mean, S) for S the batch's sample covariance, with no matrix factorised and no state
    kept between steps (so a resumed run replays them). These are the vectors the Gaussian
    sampler fitted after training gives the decoder, less the spread a batch cannot estimate.
    """
    mean = z.float().mean(dim=0, keepdim=True)
    weights = _randn((len(z), len(z)), generator, mean)
    return (mean + weights @ (z.float() - mean) / math.sqrt(len(z) - 1)).to(z.dtype)


def _randn(shape, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """Standard normals drawn on the CPU from ``generator`` (the same numbers on any device)."""
    return torch.randn(shape, generator=generator).to(device=like.device, dtype=like.dtype)


def step_generator(seed: int, epoch: int, rank: int) -> torch.Generator:
    """The generator of an epoch's training noise on one rank: a resumed epoch replays it."""
    state = np.random.SeedSequence([seed, epoch, rank, 0x4E015E]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


def flipped_rows(seed: int, epoch: int, n_images: int) -> np.ndarray:
    """(n_images,) bool: which images epoch ``epoch`` mirrors (by image row, so any rank agrees)."""
    return np.random.default_rng([seed, epoch, 0xF11B]).random(n_images) < 0.5


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
    if cfg.adversarial_prior > 0 and dist.active:
        # Its Gaussian is the whole batch's: the ranks would have to gather their codes first.
        raise AegenError("--adversarial-prior does not run under torchrun yet: train it in one process")
    if cfg.resume:
        cfg = _resumed_config(cfg, out, write=dist.is_main)

    with dist.main_first():  # one process builds the preprocessing cache, the others then read it
        dataset = load_dataset(cfg.data, cfg.model.image_size, cfg.limit, cfg.cache_dir,
                               progress=cfg.progress and dist.is_main)
    if cfg.resume:
        train_idx, heldout_idx = _recorded_split(out, len(dataset))
    else:
        split = dataset.split(cfg.heldout_fraction, cfg.seed, heldout_size=cfg.heldout_size)
        train_idx, heldout_idx, _ = split
        if dist.is_main:
            _prepare_run(cfg, out, dataset, split, device)

    model = ConvAutoencoder(cfg.model).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    critic = Critic(model, cfg.lr) if cfg.adversarial > 0 or cfg.adversarial_prior > 0 else None
    start_epoch = load_checkpoint(out / CHECKPOINT, model, optimizer, critic=critic) if cfg.resume else 0
    objective = dist.wrap(TrainingObjective(model, cfg))
    log_rows = _read_log(out / "train_log.csv", start_epoch)
    heldout = dataset.images[np.sort(heldout_idx)]
    amp = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")

    for epoch in range(start_epoch, cfg.epochs):
        order = train_idx[np.random.default_rng([cfg.seed, epoch]).permutation(len(train_idx))]
        batches = range(0, len(order), cfg.batch_size)
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", disable=not (cfg.progress and dist.is_main))
        t0, seen, loss_sum = time.perf_counter(), 0, 0.0
        lr = learning_rate(cfg, epoch * len(batches), len(batches))
        generator = step_generator(cfg.seed, epoch, dist.rank)
        flips = flipped_rows(cfg.seed, epoch, len(dataset)) if cfg.flip else None
        adversary = critic if critic is not None and epoch >= cfg.adversarial_start else None
        critic_losses: list[float] = []
        for step, start in enumerate(bar, start=epoch * len(batches)):
            batch = order[start:start + cfg.batch_size]
            if not dist.usable_batch(len(batch)):
                continue  # fewer rows than ranks: every rank must take part in a step
            lr = learning_rate(cfg, step, len(batches))
            for group in optimizer.param_groups:
                group["lr"] = lr
            rows = dist.shard_rows(batch)
            rows = np.sort(rows)
            x = to_tensor(dataset.images[rows], device)
            if flips is not None:
                mirror = torch.from_numpy(flips[rows]).to(device)[:, None, None, None]
                x = torch.where(mirror, x.flip(-1), x)
            shard = Shard(dist, len(rows) / len(batch)) if dist.active else None
            with amp:
                loss, mse, fakes = objective(x, generator, adversary, shard)
            optimizer.zero_grad(set_to_none=True)
            (loss * dist.loss_weight(len(rows), len(batch))).backward()
            optimizer.step()
            if adversary is not None:
                with amp:
                    critic_losses.append(adversary.step(x, fakes, lr, shard))
            seen += len(batch)
            loss_sum += mse.item() * len(rows)
            bar.set_postfix(mse=f"{mse.item():.5f}", img_s=f"{seen / (time.perf_counter() - t0):.0f}")
        seconds = time.perf_counter() - t0
        if dist.is_main:
            save_checkpoint(out / CHECKPOINT, model, optimizer, epoch + 1, critic=critic)
            log_rows.append({"epoch": epoch + 1, "train_mse": loss_sum / max(seen // dist.world_size, 1),
                             "heldout_mse": heldout_mse(model, heldout, device), "images_per_s": seen / seconds,
                             "epoch_seconds": seconds, "lr": lr,
                             "critic_loss": float(np.mean(critic_losses)) if critic_losses else ""})
            _write_log(out / "train_log.csv", log_rows)
            _save_recon_grid(model, heldout[:32], device, out / "recon_grid.png")
            if cfg.progress:
                r = log_rows[-1]
                tqdm.write(f"epoch {epoch + 1}: train mse {r['train_mse']:.5f}, held-out mse {r['heldout_mse']:.5f}, "
                           f"{r['images_per_s']:.0f} img/s")
        dist.barrier()
    dist.close()
    return out
