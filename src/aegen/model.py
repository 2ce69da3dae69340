"""The seed's standard convolutional autoencoder.

Encoder: 4 Conv2D layers with stride 2, then one linear layer to ``z_dim``.
Decoder: one linear layer, then 4 Conv2DTranspose layers with stride 2 back to the image
(``upsampling="nearest"``: 4 nearest-neighbour upsamplings, each followed by a Conv2D).
Nothing variational: by default no extra loss terms, and the latent space is whatever plain
reconstruction training makes of it, which is the object the analysis studies. Two options
change the network itself (``spectral_norm``: the decoder's layers spectrally normalised, as
in regularised autoencoders; ``upsampling``: resize-convolution instead of transposed ones); the training-only options (latent noise, an L2 penalty on z, a
gradient penalty, flips) live in :mod:`aegen.train`.

Beside the model live what every user of it needs, training or not: the device choice and
the conversion between uint8 images and the model's tensors.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from aegen.config import option
from aegen.data.dataset import SUPPORTED_IMAGE_SIZES

# The help section of ``aegen train``'s options that train for a latent space that can be sampled.
SAMPLABLE_OPTIONS = "training for a latent space that can be sampled (all off by default)"
ACTIVATIONS = {"leaky_relu": lambda: nn.LeakyReLU(0.2), "relu": nn.ReLU, "elu": nn.ELU, "silu": nn.SiLU}
N_STAGES = 4
UPSAMPLINGS = ("transposed", "nearest")


@dataclass
class ModelConfig:
    """The network's hyper-parameters; the defaults here are the only ones.

    Each field is an option of ``aegen train`` (:mod:`aegen.train_config`), declared here.
    """

    image_size: int = field(default=64, metadata=option("--image-size", "side of the square training images",
                                                        choices=SUPPORTED_IMAGE_SIZES))
    z_dim: int = field(default=256, metadata=option("--z-dim", "latent dimension"))
    channels: tuple[int, ...] = field(default=(32, 64, 128, 256), metadata=option("--channels", "4 conv widths"))
    kernel_size: int = field(default=4, metadata=option("--kernel-size", "conv kernel size"))
    batch_norm: bool = field(default=True, metadata=option("--no-batch-norm", "no batch norm layers (default: on)"))
    activation: str = field(default="leaky_relu", metadata=option("--activation", "after each conv layer",
                                                                  choices=sorted(ACTIVATIONS)))
    # Spectral normalisation of every decoder layer (Miyato et al. 2018): bounds each layer's
    # Lipschitz constant, so the decoder cannot change fast between the codes it was trained
    # on (the RAE-SN of Ghosh et al. 2020). Off: the seed's plain decoder.
    spectral_norm: bool = field(default=False, metadata=option(
        "--spectral-norm", "spectrally normalise the decoder's layers (cheap; changes the network)",
        group=SAMPLABLE_OPTIONS))
    # How the decoder doubles the resolution at each stage. "transposed": the seed's Conv2DTranspose
    # (stride 2). "nearest": nearest-neighbour upsampling, then a stride-1 Conv2D ('same' padding).
    # A transposed convolution with a kernel the stride does not divide evenly can paint a
    # periodic grid (Odena et al. 2016, "Deconvolution and checkerboard artifacts"), which an
    # adversarial term amplifies; resize-convolution cannot. It costs about 4x the decoder's
    # convolution arithmetic (each output pixel sees k^2 inputs instead of k^2 / 4).
    upsampling: str = field(default="transposed", metadata=option(
        "--upsampling", "how the decoder doubles the resolution: the seed's transposed convolutions, or "
                        "nearest-neighbour upsampling then a convolution (no checkerboard; ~4x the decoder's "
                        "arithmetic; changes the network)",
        choices=UPSAMPLINGS, group=SAMPLABLE_OPTIONS))

    def __post_init__(self):
        self.channels = tuple(int(c) for c in self.channels)
        if len(self.channels) != N_STAGES:
            raise ValueError(f"channels must list {N_STAGES} widths (one per conv layer), got {self.channels}")
        if self.image_size % 2 ** N_STAGES:
            raise ValueError(f"image_size must be divisible by {2 ** N_STAGES}, got {self.image_size}")
        if self.z_dim < 1 or self.kernel_size < 2 or min(self.channels) < 1:
            raise ValueError("z_dim >= 1, kernel_size >= 2 and positive channels are required")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.upsampling not in UPSAMPLINGS:
            raise ValueError(f"upsampling must be one of {', '.join(UPSAMPLINGS)}, got {self.upsampling!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d


def _normalised(layer: nn.Module, cfg: ModelConfig) -> nn.Module:
    """``layer`` spectrally normalised when the config asks for it (decoder layers only)."""
    return nn.utils.parametrizations.spectral_norm(layer) if cfg.spectral_norm else layer


def _upsampling_conv(c_in: int, c_out: int, cfg: ModelConfig, bias: bool) -> nn.Module:
    """One decoder stage's layer that doubles the resolution, as ``cfg.upsampling`` says."""
    k = cfg.kernel_size
    if cfg.upsampling == "nearest":
        # Zero padding (k - 1) // 2 before and the rest after keeps the size, as TF's 'same' does
        # (aegen.decoder_tfjs relies on it); explicit, because torch's padding="same" copies the
        # input for even kernels.
        before = (k - 1) // 2
        pad = nn.ZeroPad2d((before, k - 1 - before, before, k - 1 - before))
        conv = _normalised(nn.Conv2d(c_in, c_out, k, bias=bias), cfg)
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), pad, conv)
    # padding (k-1)//2 halves the size exactly; output_padding k%2 doubles it exactly.
    return _normalised(nn.ConvTranspose2d(c_in, c_out, k, stride=2, padding=(k - 1) // 2,
                                          output_padding=k % 2, bias=bias), cfg)


def _block(conv: nn.Module, channels: int, cfg: ModelConfig) -> list[nn.Module]:
    layers = [conv]
    if cfg.batch_norm:
        layers.append(nn.BatchNorm2d(channels))
    layers.append(ACTIVATIONS[cfg.activation]())
    return layers


class ConvAutoencoder(nn.Module):
    """Images (B, 3, S, S) in [0, 1] -> z (B, z_dim) -> images (B, 3, S, S) in [0, 1]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        k = cfg.kernel_size
        pad = (k - 1) // 2  # halves the size exactly
        widths = (3,) + cfg.channels
        self.feature_size = cfg.image_size // 2 ** N_STAGES
        flat = cfg.channels[-1] * self.feature_size ** 2

        enc: list[nn.Module] = []
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            enc += _block(nn.Conv2d(c_in, c_out, k, stride=2, padding=pad, bias=not cfg.batch_norm), c_out, cfg)
        self.encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(flat, cfg.z_dim))

        dec: list[nn.Module] = [_normalised(nn.Linear(cfg.z_dim, flat), cfg), nn.Unflatten(1, (cfg.channels[-1], self.feature_size, self.feature_size))]
        rev = widths[::-1]
        for c_in, c_out in zip(rev[:-2], rev[1:-1]):
            dec += _block(_upsampling_conv(c_in, c_out, cfg, bias=not cfg.batch_norm), c_out, cfg)
        dec += [_upsampling_conv(rev[-2], 3, cfg, bias=True), nn.Sigmoid()]
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


_DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def pick_device(name: str = "auto") -> torch.device:
    """The one device rule of aegen (training, decoding, the learned samplers).

    ``"auto"``: CUDA, then Apple MPS, then the CPU; ``"cpu"``, ``"mps"`` or ``"cuda[:N]"`` as
    named. ValueError for any other name, or for a device torch does not see.
    """
    if not isinstance(name, str) or not _DEVICE_PATTERN.match(name):
        raise ValueError(f"device must be 'auto', 'cpu', 'mps' or 'cuda[:N]', got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but torch sees no CUDA device")
    if name == "mps" and not _mps_available():
        raise ValueError("device 'mps' requested but it is not available")
    return torch.device(name)


def to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(B, S, S, 3) uint8 -> (B, 3, S, S) float in [0, 1] on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float().div_(255.0)


def to_images(x: torch.Tensor) -> np.ndarray:
    """(B, 3, S, S) float in [0, 1] -> (B, S, S, 3) uint8."""
    return (x.detach().float().clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy())
