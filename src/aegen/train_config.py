"""What ``aegen train`` takes and a run records: :class:`TrainConfig`, declared once.

Each field that is a command-line option carries its flag and help (:func:`aegen.config.option`),
as do :class:`~aegen.model.ModelConfig`'s. From that one declaration come the ``aegen train``
parser, the settings config.json records (:meth:`TrainConfig.settings`) and the command
that reproduces a recorded run (:func:`train_argv`), so an option cannot be parsed, recorded
and then left out of the reproduction. This module holds no training code, so the report
(inference) reads it without importing :mod:`aegen.train`.
"""

from __future__ import annotations

import math
from dataclasses import InitVar, dataclass, field, fields, replace

from aegen.config import dataclass_default, option, option_argv, option_fields
from aegen.data.dataset import DEFAULT_HELDOUT_FRACTION
from aegen.model import SAMPLABLE_OPTIONS, ModelConfig

LR_SCHEDULES = ("constant", "cosine")
# Named combinations of the training options (``--preset``): each fills the options left at
# their defaults, once, when a run is configured (its record holds the values). Both are
# autoencoders of the samplable-latent study (docs/RESULTS.md, "Which autoencoder makes a latent
# space that can be sampled"; a test checks that each is one of benchmarks/samplable_study.py's
# variants), measured at 25 epochs on CelebA. "samplable": generated faces nearest to the
# decoder's own reconstructions; on the fresh seed 5000, 3 fits, the mixture-base flow scores
# 65.7 at 1.10x its reconstructions (the GMM 68.3, 1.14x). "sharp": the same recipe at z 128,
# sharper reconstructions (51.8-51.9 against 59.0-59.7) but samples 1.24-1.28x them. Earlier
# meanings of "samplable" (a run's record keeps its own values): the "sharp" recipe (2026-12-07),
# z 64 + flips (1.07x through blurry reconstructions: samples at 82.9; until 2026-12-07), latent
# noise 0.5 + flips + L2 (until 2026-12-06).
_RESIZE_CONV_ADVERSARIAL = {"flip": True, "adversarial": 0.1, "adversarial_start": 5, "upsampling": "nearest"}
PRESETS = {
    "samplable": {"z_dim": 64, **_RESIZE_CONV_ADVERSARIAL},
    "sharp": {"z_dim": 128, **_RESIZE_CONV_ADVERSARIAL},
}
MODEL_FIELDS = tuple(f.name for f in fields(ModelConfig))


@dataclass
class TrainConfig:
    """Everything ``aegen train`` needs; these defaults (and ModelConfig's) are the CLI's defaults.

    ``model`` holds the network's hyper-parameters. Any ModelConfig field may also be given
    directly, as a shortcut: ``TrainConfig(z_dim=64)`` is ``TrainConfig(model=ModelConfig(z_dim=64))``,
    and ``cfg.z_dim`` reads ``cfg.model.z_dim``. The held-out set is ``heldout_fraction`` of
    the images or ``heldout_size`` images (not both; neither: 10%).

    Field metadata: ``free_on_resume`` marks what may change on --resume (where and how long,
    not what is trained); ``recorded=False`` what config.json does not record under ``train``.
    """

    data: str = field(default="synthetic", metadata=option(
        "--data", "celeba:PATH (zip or folder), folder:PATH (images, recursive, or a zip) or "
                  "synthetic[:n=N,seed=S,blur=B]"))
    out: str = field(default="runs/aegen", metadata=option(
        "--out", "run folder to create (or to continue with --resume)", required=True, free_on_resume=True,
        recorded=False))
    model: ModelConfig = field(default_factory=ModelConfig, metadata={"recorded": False})
    epochs: int = field(default=20, metadata=option("--epochs", "passes over the training images",
                                                    free_on_resume=True))
    batch_size: int = field(default=128, metadata=option("--batch-size", "images per step"))
    lr: float = field(default=1e-3, metadata=option("--lr", "Adam learning rate"))
    # "constant": Adam at ``lr`` throughout; "cosine": the rate falls from ``lr`` to 0 along a
    # half cosine over the run's steps (set per step from the epoch count, so a resumed run
    # replays it as long as --epochs is unchanged).
    lr_schedule: str = field(default="constant", metadata=option(
        "--lr-schedule", "constant, or cosine: decay from --lr to 0 over the run's steps", choices=LR_SCHEDULES))
    preset: str | None = field(default=None, metadata=option(
        "--preset", "a named combination of the options below, filling those you leave at their defaults; "
                    + "; ".join(f"{name}: " + " ".join(f"{k}={v}" for k, v in values.items())
                                for name, values in PRESETS.items()),
        choices=sorted(PRESETS), group=SAMPLABLE_OPTIONS))
    # The decoder sees z + latent_noise * s * eps, eps ~ N(0, I) and s the per-component
    # standard deviation of the batch's codes (so one value means the same at every z_dim and
    # the encoder cannot outgrow the noise by scaling z). Held-out MSE is measured without it.
    latent_noise: float = field(default=0.0, metadata=option(
        "--latent-noise", "the decoder sees z + SIGMA * s * eps, s the per-component spread of the batch's codes",
        metavar="SIGMA", group=SAMPLABLE_OPTIONS))
    # Weight of the L2 penalty on the codes, z_l2 * mean(z ** 2) (the RAE's regulariser).
    z_l2: float = field(default=0.0, metadata=option(
        "--z-l2", "L2 penalty WEIGHT * mean(z^2) on the codes", metavar="WEIGHT", group=SAMPLABLE_OPTIONS))
    # Weight of a gradient penalty on the decoder: decoder_gp * ||J||_F^2 / D with J the
    # decoder's Jacobian at the (noisy) codes, estimated with one random projection per image,
    # and D the number of pixel values (the RAE-GP of Ghosh et al. 2020).
    decoder_gp: float = field(default=0.0, metadata=option(
        "--decoder-gp", "gradient penalty WEIGHT * ||dD/dz||^2 per pixel value on the decoder (a double "
                        "backward pass: slower)", metavar="WEIGHT", group=SAMPLABLE_OPTIONS))
    # Mirror each training image left-right with probability 1/2 (the batch only, not the
    # held-out images): a mirrored face is a face, twice the data for the autoencoder itself.
    flip: bool = field(default=False, metadata=option(
        "--flip", "mirror each training image left-right with probability 1/2 (the held-out images never)",
        group=SAMPLABLE_OPTIONS))
    # Weight of the adversarial term (aegen.adversarial): a patch discriminator is trained beside
    # the autoencoder and the decoder also minimises its hinge loss, scaled adaptively to the
    # squared error's gradient at the decoder's last layer (so WEIGHT is a ratio of gradients).
    adversarial: float = field(default=0.0, metadata=option(
        "--adversarial", "train a patch discriminator beside the autoencoder and add its loss to the decoder's, "
                         "scaled to WEIGHT times the squared error's gradient (0.1: a few FID units better on "
                         "CelebA; 0.5 paints texture; about 2.2x the time per epoch)", metavar="WEIGHT",
        group=SAMPLABLE_OPTIONS))
    # Weight of the adversarial term on faces decoded from draws of the batch codes' Gaussian
    # (mean and covariance of the batch, codes detached: the decoder alone learns to make faces
    # where a fitted Gaussian or GMM sampler will put its vectors, between the training codes).
    # Same discriminator and adaptive scale as --adversarial.
    adversarial_prior: float = field(default=0.0, metadata=option(
        "--adversarial-prior", "also decode draws from a Gaussian with the batch codes' mean and covariance and "
                               "add the discriminator's loss on them to the decoder's, scaled like --adversarial "
                               "(trains the decoder where samplers put their vectors; 0.1 at z 128 made every FID worse on CelebA)",
        metavar="WEIGHT",
        group=SAMPLABLE_OPTIONS))
    # The epoch (0-based) from which the discriminator trains and the adversarial term applies:
    # the reconstructions it first sees are then faces, not noise.
    adversarial_start: int = field(default=0, metadata=option(
        "--adversarial-start", "the epoch (counted from 0) from which --adversarial and --adversarial-prior apply",
        metavar="EPOCH",
        group=SAMPLABLE_OPTIONS))
    seed: int = field(default=0, metadata=option("--seed", "seeds initialisation, shuffling and the held-out split"))
    device: str = field(default="auto", metadata=option(
        "--device", "auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps", free_on_resume=True))
    limit: int | None = field(default=None, metadata=option("--limit", "use only the first N images", metavar="N"))
    heldout_fraction: float | None = field(default=None, metadata=option(
        "--heldout-fraction", f"share of the images held out (default {DEFAULT_HELDOUT_FRACTION})",
        exclusive="heldout"))
    heldout_size: int | None = field(default=None, metadata=option(
        "--heldout-size", "hold out N images instead: CelebA's official test partition when N of its images are "
                          "present, else whole people (else random images); pick N for the evaluation you plan "
                          "(its reference and reconstruction subsets are drawn from it)",
        metavar="N", exclusive="heldout"))
    resume: bool = field(default=False, metadata=option(
        "--resume", "continue from the run's last checkpoint", free_on_resume=True, recorded=False))
    progress: bool = field(default=True, metadata={"free_on_resume": True, "recorded": False})
    # Recorded as an absolute path under config.json's ``data`` (see aegen.train), not under ``train``.
    cache_dir: str | None = field(default=None, metadata=option(
        "--cache-dir", "preprocessing cache (default $AEGEN_CACHE_DIR or ~/.cache/aegen); recorded in the run, "
                       "so later commands on the run use it too", free_on_resume=True, recorded=False))
    image_size: InitVar[int | None] = None
    z_dim: InitVar[int | None] = None
    channels: InitVar[tuple[int, ...] | None] = None
    kernel_size: InitVar[int | None] = None
    batch_norm: InitVar[bool | None] = None
    activation: InitVar[str | None] = None
    spectral_norm: InitVar[bool | None] = None
    upsampling: InitVar[str | None] = None

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
        if not (isinstance(self.adversarial_start, int) and self.adversarial_start >= 0):
            raise ValueError(f"--adversarial-start must be an epoch >= 0, got {self.adversarial_start!r}")
        for name in ("latent_noise", "z_l2", "decoder_gp", "adversarial", "adversarial_prior"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"--{name.replace('_', '-')} must be a finite number >= 0, got {value!r}")

    def settings(self) -> dict:
        """The training settings config.json records under ``train`` (the model is recorded once, apart)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("recorded", True)}

    @classmethod
    def from_record(cls, config: dict, **overrides) -> "TrainConfig":
        """The config a run's config.json records (``model``, ``train``, ``data.cache_dir``); ``overrides`` win.

        Settings a run of an older aegen lacks take the value they had then
        (:data:`SETTINGS_OF_OLDER_RUNS`, else the default); keys that are no setting (older runs
        repeat the model's fields under ``train``) are ignored.
        """
        recorded = config.get("train") or {}
        names = [f.name for f in fields(cls) if f.metadata.get("recorded", True)]
        settings = {name: recorded.get(name, SETTINGS_OF_OLDER_RUNS.get(name, dataclass_default(cls, name)))
                    for name in names}
        model = {name: value for name, value in (config.get("model") or {}).items() if name in MODEL_FIELDS}
        cache_dir = (config.get("data") or {}).get("cache_dir")
        # The recorded values are the preset already applied: applying it again would read a recorded
        # default (z 256, say) as "left unset" and fill it with what the preset means today.
        preset = overrides.pop("preset", settings.pop("preset", None))
        cfg = cls(**{**settings, "model": ModelConfig(**model), "cache_dir": cache_dir, **overrides})
        cfg.preset = preset
        return cfg


# Read access to the model shortcuts (assigned after the class: a property in the class body
# would become the InitVar's default).
for _name in MODEL_FIELDS:
    setattr(TrainConfig, _name, property(lambda self, _name=_name: getattr(self.model, _name)))

# Settings added after runs were first written, with the behaviour those runs had: a run
# that lacks one resumes with it. Any other missing setting is an error on --resume.
SETTINGS_OF_OLDER_RUNS = {"lr_schedule": "constant", "latent_noise": 0.0, "z_l2": 0.0, "decoder_gp": 0.0,
                          "flip": False, "preset": None, "adversarial": 0.0, "adversarial_start": 0,
                          "adversarial_prior": 0.0}

# Changing any of these would make a resumed run a different run: the model, and every
# training field not marked free.
FIXED_ON_RESUME = MODEL_FIELDS + tuple(f.name for f in fields(TrainConfig)
                                       if f.name != "model" and not f.metadata.get("free_on_resume"))


def samplable_options_set(cfg: TrainConfig) -> list[tuple[str, object]]:
    """(flag, value) of each samplable-latent option of ``cfg`` (the model's too) away from its default.

    What made a run more than the seed's autoencoder, in declaration order (``--preset`` first):
    the report shows these beside the training settings.
    """
    return [(f.metadata["flag"], getattr(target, f.name))
            for target in (cfg, cfg.model) for f in option_fields(type(target))
            if f.metadata.get("group") == SAMPLABLE_OPTIONS
            and getattr(target, f.name) != dataclass_default(type(target), f.name)]


def train_argv(cfg: TrainConfig) -> list[str]:
    """``aegen train`` and the options that give every field of ``cfg`` (the model's too) its value.

    Without ``--preset``: the preset is already in the values, which reproduce the run whatever
    the preset of that name means in a later aegen.
    """
    return ["aegen", "train", *option_argv(cfg, skip=("preset",)), *option_argv(cfg.model)]
