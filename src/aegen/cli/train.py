"""``aegen train``: train the autoencoder on a data spec.

The defaults live in :class:`~aegen.train.TrainConfig` and :class:`~aegen.model.ModelConfig`;
an option the user does not give is left to them (see :mod:`aegen.cli.common`).
"""

from __future__ import annotations

import argparse

from aegen.cli.common import add_data_args, default_text, given, parse_int_list

MODEL_OPTIONS = ("image_size", "z_dim", "channels", "kernel_size", "batch_norm", "activation", "spectral_norm")
TRAIN_OPTIONS = ("data", "epochs", "batch_size", "lr", "lr_schedule", "latent_noise", "z_l2", "decoder_gp", "flip",
                 "preset", "seed", "device", "limit", "heldout_fraction", "heldout_size", "resume", "cache_dir")


def add_parser(sub) -> None:
    from aegen.data.dataset import DEFAULT_HELDOUT_FRACTION
    from aegen.model import ACTIVATIONS, ModelConfig
    from aegen.train import LR_SCHEDULES, PRESETS, TrainConfig

    def model_default(name):
        return default_text(ModelConfig, name)

    def train_default(name):
        return default_text(TrainConfig, name)

    p = sub.add_parser("train", help="train the autoencoder", description="Train the seed's standard convolutional autoencoder.",
                       argument_default=argparse.SUPPRESS)
    add_data_args(p)
    p.add_argument("--out", required=True, help="run folder to create (or to continue with --resume)")
    p.add_argument("--z-dim", type=int, help=f"latent dimension {model_default('z_dim')}")
    p.add_argument("--channels", type=parse_int_list, help=f"4 conv widths {model_default('channels')}")
    p.add_argument("--kernel-size", type=int, help=f"conv kernel size {model_default('kernel_size')}")
    p.add_argument("--no-batch-norm", dest="batch_norm", action="store_false",
                   help="no batch norm layers (default: batch norm on)")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), help=f"after each conv layer {model_default('activation')}")
    p.add_argument("--epochs", type=int, help=f"passes over the training images {train_default('epochs')}")
    p.add_argument("--batch-size", type=int, help=f"images per step {train_default('batch_size')}")
    p.add_argument("--lr", type=float, help=f"Adam learning rate {train_default('lr')}")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES,
                   help=f"constant, or cosine: decay from --lr to 0 over the run's steps {train_default('lr_schedule')}")
    sampling = p.add_argument_group("training for a latent space that can be sampled (all off by default)")
    sampling.add_argument("--preset", choices=sorted(PRESETS),
                          help="a named combination of the options below, filling those you leave at their "
                               "defaults; samplable: " + " ".join(f"{k}={v}" for k, v in PRESETS["samplable"].items()))
    sampling.add_argument("--latent-noise", type=float, metavar="SIGMA",
                          help="the decoder sees z + SIGMA * s * eps, s the per-component spread of the batch's codes "
                               f"{train_default('latent_noise')}")
    sampling.add_argument("--z-l2", type=float, metavar="WEIGHT",
                          help=f"L2 penalty WEIGHT * mean(z^2) on the codes {train_default('z_l2')}")
    sampling.add_argument("--decoder-gp", type=float, metavar="WEIGHT",
                          help="gradient penalty WEIGHT * ||dD/dz||^2 per pixel value on the decoder (a double "
                               f"backward pass: slower) {train_default('decoder_gp')}")
    sampling.add_argument("--spectral-norm", action="store_true",
                          help="spectrally normalise the decoder's layers (cheap; changes the network)")
    sampling.add_argument("--flip", action="store_true",
                          help="mirror each training image left-right with probability 1/2 (the held-out images never)")
    p.add_argument("--seed", type=int, help=f"seeds initialisation, shuffling and the held-out split "
                                            f"{train_default('seed')}")
    p.add_argument("--device", help=f"auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps {train_default('device')}")
    heldout = p.add_mutually_exclusive_group()
    heldout.add_argument("--heldout-fraction", type=float,
                         help=f"share of the images held out (default {DEFAULT_HELDOUT_FRACTION})")
    heldout.add_argument("--heldout-size", type=int, metavar="N",
                         help="hold out N images instead: CelebA's official test partition when N of its images "
                              "are present, else whole people (else random images); pick N for the evaluation "
                              "you plan (its reference and reconstruction subsets are drawn from it)")
    p.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    p.set_defaults(func=run)


def run(args) -> int:
    from aegen.model import ModelConfig
    from aegen.train import TrainConfig, train

    cfg = TrainConfig(out=args.out, model=ModelConfig(**given(args, *MODEL_OPTIONS)), **given(args, *TRAIN_OPTIONS))
    out = train(cfg)
    from aegen.run import Run

    rule = Run.open(out).split_rule
    print(f"trained: {out} (log {out / 'train_log.csv'}, reconstructions {out / 'recon_grid.png'}; "
          f"{rule['n_train']} training and {rule['n_heldout']} held-out images, held out by {rule['policy']})")
    return 0
