"""``aegen train``: train the autoencoder on a data spec."""

from __future__ import annotations

from aegen.cli.common import add_data_args, parse_int_list


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train the autoencoder", description="Train the seed's standard convolutional autoencoder.")
    add_data_args(p)
    p.add_argument("--out", required=True, help="run folder to create (or to continue with --resume)")
    p.add_argument("--z-dim", type=int, default=256, help="latent dimension (default 256)")
    p.add_argument("--channels", type=parse_int_list, default=(32, 64, 128, 256), help="4 conv widths, e.g. 32,64,128,256")
    p.add_argument("--kernel-size", type=int, default=4)
    p.add_argument("--no-batch-norm", dest="batch_norm", action="store_false")
    p.add_argument("--activation", default="leaky_relu", choices=["leaky_relu", "relu", "elu", "silu"])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=0, help="seeds initialisation, shuffling and the held-out split")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps")
    p.add_argument("--heldout-fraction", type=float, default=0.1)
    p.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    p.set_defaults(func=run)


def run(args) -> int:
    from aegen.train import TrainConfig, train

    cfg = TrainConfig(
        data=args.data, out=args.out, image_size=args.image_size, z_dim=args.z_dim, channels=tuple(args.channels),
        kernel_size=args.kernel_size, batch_norm=args.batch_norm, activation=args.activation, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, seed=args.seed, device=args.device, limit=args.limit,
        heldout_fraction=args.heldout_fraction, resume=args.resume, cache_dir=args.cache_dir,
    )
    try:
        cfg.model_config()
    except ValueError as exc:
        from aegen import AegenError

        raise AegenError(str(exc)) from None
    out = train(cfg)
    print(f"trained: {out} (log {out / 'train_log.csv'}, reconstructions {out / 'recon_grid.png'})")
    return 0
