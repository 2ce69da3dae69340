"""``aegen encode``: z-points of a run's training and held-out images.

The options are declared on the fields of :class:`~aegen.encode.EncodeConfig`.
"""

from __future__ import annotations

from aegen.cli.common import add_run_arg


def add_parser(sub) -> None:
    from aegen.config import add_options
    from aegen.encode import EncodeConfig

    p = sub.add_parser("encode", help="encode the run's images into z-points",
                       description="Write RUN/zpoints/{train,heldout}.npy with ids and attributes beside them.")
    add_run_arg(p)
    add_options(p, EncodeConfig)
    p.set_defaults(func=run)


def config_from_args(args):
    """The :class:`~aegen.encode.EncodeConfig` of parsed ``aegen encode`` arguments."""
    from aegen.config import given_options
    from aegen.encode import EncodeConfig

    return EncodeConfig(**given_options(args, EncodeConfig))


def run(args) -> int:
    from aegen.encode import encode_run
    from aegen.run import Run

    config = config_from_args(args)
    run_ = Run.open(args.run)
    out = encode_run(run_, **config.keywords())
    n = {s: len(run_.zpoints(s)) for s in ("train", "heldout")}
    mirrored = f", {len(run_.mirrored_zpoints())} mirrored training" if config.mirrored else ""
    print(f"encoded: {out} ({n['train']} train, {n['heldout']} held-out{mirrored} z-points of dimension {run_.z_dim})")
    return 0
