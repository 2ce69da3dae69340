"""Training the autoencoder: a plain reconstruction loop, resumable and reproducible.

Epoch ``e`` shuffles with a generator seeded by ``(seed, e)`` and a checkpoint holds the
weights, the optimizer moments and the epoch, so a resumed run (even one killed mid-epoch)
replays exactly the batches of an uninterrupted one and ends with the same weights on CPU.
Under ``torchrun`` each rank takes its share of every batch and rank 0 writes the files.

The seed's autoencoder trains on the reconstruction MSE alone. Four options, all off by
default, make a latent space that can be sampled (docs/SAMPLERS.md, "Training for sampling"):
noise on the decoder's input, an L2 penalty on z, a gradient penalty on the decoder
(``ModelConfig.spectral_norm`` is the other smoothness option) and random horizontal flips.
Their random draws come from generators seeded by (seed, epoch, rank), so a resumed run
replays them exactly.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from dataclasses import InitVar, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from aegen import RUN_FORMAT_VERSION, AegenError, __version__
from aegen.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from aegen.config import dataclass_default
from aegen.data import load_dataset
from aegen.data.dataset import DEFAULT_HELDOUT_FRACTION
from aegen.distributed import DistContext
from aegen.io import load_npz, read_json, save_npz, write_json, write_text
from aegen.model import ConvAutoencoder, ModelConfig, pick_device, to_images, to_tensor
from aegen.plots import save_image_grid

LR_SCHEDULES = ("constant", "cosine")
# Named combinations of the training options (``--preset``): each fills the options left at
# their defaults. "samplable": the combination the samplable-latent study picked (RESULTS.md,
# "Which autoencoder makes a latent space that can be sampled").
PRESETS = {
    "samplable": {"latent_noise": 0.5, "flip": True, "z_l2": 1e-3},
}
LOG_COLUMNS = ["epoch", "train_mse", "heldout_mse", "images_per_s", "epoch_seconds", "lr"]
MODEL_FIELDS = tuple(f.name for f in fields(ModelConfig))
# A field with this metadata may change on --resume (where and how long, not what is trained).
_FREE = {"free_on_resume": True}


@dataclass
class TrainConfig:
    """Everything ``aegen train`` needs; these defaults (and ModelConfig's) are the CLI's defaults.

    ``model`` holds the network's hyper-parameters. Any ModelConfig field may also be given
    directly, as a shortcut: ``TrainConfig(z_dim=64)`` is ``TrainConfig(model=ModelConfig(z_dim=64))``,
    and ``cfg.z_dim`` reads ``cfg.model.z_dim``. The held-out set is ``heldout_fraction`` of
    the images or ``heldout_size`` images (not both; neither: 10%).
    """

    data: str = "synthetic"
    out: str = field(default="runs/aegen", metadata=_FREE)
    model: ModelConfig = field(default_factory=ModelConfig)
    epochs: int = field(default=20, metadata=_FREE)
    batch_size: int = 128
    lr: float = 1e-3
    # "constant": Adam at ``lr`` throughout; "cosine": the rate falls from ``lr`` to 0 along a
    # half cosine over the run's steps (set per step from the epoch count, so a resumed run
    # replays it as long as --epochs is unchanged).
    lr_schedule: str = "constant"
    # The decoder sees z + latent_noise * s * eps, eps ~ N(0, I) and s the per-component
    # standard deviation of the batch's codes (so one value means the same at every z_dim and
    # the encoder cannot outgrow the noise by scaling z). Held-out MSE is measured without it.
    latent_noise: float = 0.0
    # Weight of the L2 penalty on the codes, z_l2 * mean(z ** 2) (the RAE's regulariser).
    z_l2: float = 0.0
    # Weight of a gradient penalty on the decoder: decoder_gp * ||J||_F^2 / D with J the
    # decoder's Jacobian at the (noisy) codes, estimated with one random projection per image,
    # and D the number of pixel values (the RAE-GP of Ghosh et al. 2020).
    decoder_gp: float = 0.0
    # Mirror each training image left-right with probability 1/2 (the batch only, not the
    # held-out images): a mirrored face is a face, twice the data for the autoencoder itself.
    flip: bool = False
    preset: str | None = None
    seed: int = 0
    device: str = field(default="auto", metadata=_FREE)
    limit: int | None = None
    heldout_fraction: float | None = None
    heldout_size: int | None = None
    resume: bool = field(default=False, metadata=_FREE)
    progress: bool = field(default=True, metadata=_FREE)
    cache_dir: str | None = field(default=None, metadata=_FREE)
    image_size: InitVar[int | None] = None
    z_dim: InitVar[int | None] = None
    channels: InitVar[tuple[int, ...] | None] = None
    kernel_size: InitVar[int | None] = None
    batch_norm: InitVar[bool | None] = None
    activation: InitVar[str | None] = None
    spectral_norm: InitVar[bool | None] = None

    def __post_init__(self, *model_values):
        shortcuts = {name: value for name, value in zip(MODEL_FIELDS, model_values) if value is not None}
        if shortcuts:
            self.model = replace(self.model, **shortcuts)
        if self.heldout_fraction is not None and self.heldout_size is not None:
            raise ValueError("--heldout-fraction and --heldout-size exclude each other: give one")
        if self.heldout_size is None and self.heldout_fraction is None:
            self.heldout_fraction = DEFAULT_HELDOUT_FRACTION
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.preset is not None:
            if self.preset not in PRESETS:
                raise ValueError(f"unknown preset {self.preset!r}: choose from {', '.join(PRESETS)}")
            for name, value in PRESETS[self.preset].items():
                target = self.model if name in MODEL_FIELDS else self
                if getattr(target, name) == dataclass_default(type(target), name):
                    if target is self.model:
                        self.model = replace(self.model, **{name: value})
                    else:
                        setattr(self, name, value)
        for name in ("latent_noise", "z_l2", "decoder_gp"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"--{name.replace('_', '-')} must be a finite number >= 0, got {value!r}")

    def settings(self) -> dict:
        """The training settings config.json records under ``train`` (the model is recorded once, apart)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("model", "out", "resume", "progress", "cache_dir")}


# Read access to the model shortcuts (assigned after the class: a property in the class body
# would become the InitVar's default).
for _name in MODEL_FIELDS:
    setattr(TrainConfig, _name, property(lambda self, _name=_name: getattr(self.model, _name)))

# Settings added after runs were first written, with the behaviour those runs had: a run
# that lacks one resumes with it. Any other missing setting is an error on --resume.
_TRAIN_DEFAULTS = {"lr_schedule": "constant", "latent_noise": 0.0, "z_l2": 0.0, "decoder_gp": 0.0, "flip": False,
                   "preset": None}

# Changing any of these would make a resumed run a different run: the model, and every
# training field not marked free.
FIXED_ON_RESUME = MODEL_FIELDS + tuple(f.name for f in fields(TrainConfig)
                                       if f.name != "model" and not f.metadata.get("free_on_resume"))


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
            was = saved["train"].get(key, _TRAIN_DEFAULTS.get(key))
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
    its gradient hooks see every parameter. ``forward(x, generator)`` takes images
    (B, 3, S, S) and the generator of the step's random draws; returns (loss, mse).
    """

    def __init__(self, model: ConvAutoencoder, cfg: TrainConfig):
        super().__init__()
        self.model = model
        self.latent_noise, self.z_l2, self.decoder_gp = cfg.latent_noise, cfg.z_l2, cfg.decoder_gp

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.model.encode(x)
        z_in = z
        if self.latent_noise > 0:
            # The spread is a constant of the step (detached): the noise must not teach the
            # encoder to shrink or grow its codes.
            spread = z.detach().float().std(dim=0, keepdim=True) if len(z) > 1 else torch.ones_like(z)
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
        return loss, mse


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
    start_epoch = load_checkpoint(out / CHECKPOINT, model, optimizer) if cfg.resume else 0
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
            with amp:
                loss, mse = objective(x, generator)
            optimizer.zero_grad(set_to_none=True)
            (loss * dist.loss_weight(len(rows), len(batch))).backward()
            optimizer.step()
            seen += len(batch)
            loss_sum += mse.item() * len(rows)
            bar.set_postfix(mse=f"{mse.item():.5f}", img_s=f"{seen / (time.perf_counter() - t0):.0f}")
        seconds = time.perf_counter() - t0
        if dist.is_main:
            save_checkpoint(out / CHECKPOINT, model, optimizer, epoch + 1)
            log_rows.append({"epoch": epoch + 1, "train_mse": loss_sum / max(seen // dist.world_size, 1),
                             "heldout_mse": heldout_mse(model, heldout, device), "images_per_s": seen / seconds,
                             "epoch_seconds": seconds, "lr": lr})
            _write_log(out / "train_log.csv", log_rows)
            _save_recon_grid(model, heldout[:32], device, out / "recon_grid.png")
            if cfg.progress:
                r = log_rows[-1]
                tqdm.write(f"epoch {epoch + 1}: train mse {r['train_mse']:.5f}, held-out mse {r['heldout_mse']:.5f}, "
                           f"{r['images_per_s']:.0f} img/s")
        dist.barrier()
    dist.close()
    return out
