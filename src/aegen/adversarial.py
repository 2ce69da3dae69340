"""An adversarial term for the decoder (``aegen train --adversarial``): sharper reconstructions.

Trained on the squared error alone, the decoder outputs the mean of the faces a code could
stand for: a blur that Inception features, and so FID, punish (docs/RESULTS.md: at z 64 the
reconstructions score FID 77.5 where z 256's score 52, and every sampler follows its
reconstructions). A patch discriminator, trained from scratch beside the autoencoder (no
pretrained network is needed or downloaded), tells real images from reconstructions patch by
patch; the decoder also minimises its hinge loss, which rewards the detail the squared error
averages away. The autoencoder itself is unchanged (the seed's 4 + 4 conv layers): the
discriminator exists only during training and is kept in the checkpoint for ``--resume``.

The decoder's adversarial weight is adaptive, as in VQGAN (Esser et al. 2021): the user's
``WEIGHT`` times the ratio of the reconstruction loss's gradient norm to the adversarial
loss's at the decoder's last layer, so one value means the same at any image size, width or
stage of training, and the squared error keeps the reconstruction faithful.

Under ``torchrun`` each rank holds the same discriminator: its gradients are summed over the
ranks and the adaptive weight comes from the whole batch's gradients (:class:`Shard`), so
the run matches one process.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from aegen.distributed import DistContext
from aegen.model import ConvAutoencoder

# Bounds of the adaptive weight: VQGAN's, against a vanishing adversarial gradient.
MAX_ADAPTIVE_WEIGHT = 1e4


@dataclass(frozen=True)
class Shard:
    """One rank's part of a global batch under torchrun: ``share`` = its rows / the batch's rows."""

    dist: DistContext
    share: float


class PatchDiscriminator(nn.Module):
    """Images (B, 3, S, S) in [0, 1] -> logits (B, 1, S/8, S/8), one per overlapping patch.

    Three stride-2 convolutions with ``channels`` widths and a 3x3 convolution to one logit,
    all spectrally normalised (a stable critic without batch statistics, which would mix the
    real and reconstructed halves of a step).
    """

    def __init__(self, channels: tuple[int, int, int]):
        super().__init__()
        widths = (3, *channels)
        layers: list[nn.Module] = []
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.utils.parametrizations.spectral_norm(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)),
                       nn.LeakyReLU(0.2)]
        layers.append(nn.utils.parametrizations.spectral_norm(nn.Conv2d(widths[-1], 1, 3, padding=1)))
        self.net = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images * 2 - 1)


def critic_hinge_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's hinge loss: real patches above +1, reconstructed ones below -1."""
    return torch.relu(1 - real_logits.float()).mean() + torch.relu(1 + fake_logits.float()).mean()


def last_decoder_weight(model: ConvAutoencoder) -> torch.Tensor:
    """The weight tensor (a leaf) of the decoder's last convolution, spectrally normalised or not."""
    last = [m for m in model.decoder.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))][-1]
    parametrized = getattr(last, "parametrizations", None)
    return parametrized.weight.original if parametrized is not None else last.weight


def adaptive_weight(reconstruction_loss: torch.Tensor, adversarial_loss: torch.Tensor,
                    layer_weight: torch.Tensor, shard: Shard | None = None) -> torch.Tensor:
    """||d rec / d W|| / ||d adv / d W|| at ``layer_weight`` W, detached and clamped to [0, 1e4].

    Under torchrun (``shard``: this rank's share of the batch) the two gradients are those of
    the whole batch, summed over the ranks before their norms are taken: every rank scales by
    the same weight, the one a single process would use.
    """
    (g_rec,) = torch.autograd.grad(reconstruction_loss, layer_weight, retain_graph=True)
    (g_adv,) = torch.autograd.grad(adversarial_loss, layer_weight, retain_graph=True)
    if shard is not None:
        both = shard.dist.sum_over_ranks(torch.stack([g_rec.detach(), g_adv.detach()]).float() * shard.share)
        g_rec, g_adv = both[0], both[1]
    return (g_rec.norm() / (g_adv.norm() + 1e-4)).clamp(0, MAX_ADAPTIVE_WEIGHT).detach()



class Critic:
    """The discriminator and its Adam optimiser; ``step`` trains it on one batch.

    Created after the autoencoder from the same seeded global generator, so a run and its
    resumption build the same initial discriminator before the checkpoint is loaded.
    """

    def __init__(self, model: ConvAutoencoder, lr: float):
        self.discriminator = PatchDiscriminator(model.cfg.channels[:3]).to(next(model.parameters()).device)
        # betas (0.5, 0.9): the usual choice for adversarial training (less momentum in a moving game).
        self.optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=(0.5, 0.9))

    def decoder_loss(self, reconstruction: torch.Tensor) -> torch.Tensor:
        """The hinge generator loss of a batch of reconstructions: lower when they look real.

        The discriminator's weights are frozen for this loss (its gradient flows through them to
        the decoder, none is kept for them: :meth:`step` trains them on its own loss).
        """
        self.discriminator.requires_grad_(False)
        return -self.discriminator(reconstruction).float().mean()

    def step(self, real: torch.Tensor, reconstruction: torch.Tensor, lr: float, shard: Shard | None = None) -> float:
        """One optimiser step on real images and (detached) reconstructions; returns the loss.

        Under torchrun (``shard``) each rank weighs its loss by its share of the batch and the
        gradients are summed over the ranks: the discriminators stay identical, and step as
        one process would on the whole batch; the returned loss is the whole batch's.
        """
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.discriminator.requires_grad_(True)
        loss = critic_hinge_loss(self.discriminator(real), self.discriminator(reconstruction.detach()))
        self.optimizer.zero_grad(set_to_none=True)
        if shard is None:
            loss.backward()
        else:
            (loss * shard.share).backward()
            for param in self.discriminator.parameters():
                shard.dist.sum_over_ranks(param.grad)
            loss = shard.dist.sum_over_ranks(loss.detach() * shard.share)
        self.optimizer.step()
        return loss.item()
