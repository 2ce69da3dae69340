"""``aegen encode``: z-points of a run's training and held-out images."""

from __future__ import annotations

from aegen.cli.common import add_run_arg


def add_parser(sub) -> None:
    p = sub.add_parser("encode", help="encode the run's images into z-points",
                       description="Write RUN/zpoints/{train,heldout}.npy with ids and attributes beside them.")
    add_run_arg(p)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", default="auto")
    p.add_argument("--mirrored", action="store_true",
                   help="also write zpoints/train_mirrored.npy: the training faces flipped left to right, "
                        "extra points a sampler can fit with --param fit_on=train+mirrored")
    p.set_defaults(func=run)


def run(args) -> int:
    from aegen.encode import encode_run
    from aegen.run import Run

    run_ = Run.open(args.run)
    out = encode_run(run_, batch_size=args.batch_size, device=args.device, mirrored=args.mirrored)
    n = {s: len(run_.zpoints(s)) for s in ("train", "heldout")}
    mirrored = f", {len(run_.mirrored_zpoints())} mirrored training" if args.mirrored else ""
    print(f"encoded: {out} ({n['train']} train, {n['heldout']} held-out{mirrored} z-points of dimension {run_.z_dim})")
    return 0
