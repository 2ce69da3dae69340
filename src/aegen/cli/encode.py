"""``aegen encode``: z-points of a run's training and held-out images.

The options are declared on the fields of :class:`~aegen.encode.EncodeConfig`.
"""

from __future__ import annotations

from aegen.cli.common import step_config


def run(args) -> int:
    from aegen.encode import encode_run
    from aegen.run import Run

    config = step_config(args)
    run_ = Run.open(args.run)
    out = encode_run(run_, **config.keywords())
    n = {s: len(run_.zpoints(s)) for s in ("train", "heldout")}
    mirrored = f", {len(run_.mirrored_zpoints())} mirrored training" if config.mirrored else ""
    print(f"encoded: {out} ({n['train']} train, {n['heldout']} held-out{mirrored} z-points of dimension {run_.z_dim})")
    return 0
