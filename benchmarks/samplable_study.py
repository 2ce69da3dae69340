"""The samplable-latent study: which property of the autoencoder lets its latent space be sampled.

Trains one autoencoder per variant on the same data, split rule and seed with the same
budget (epochs), encodes it, evaluates the Gaussian, GMM and ellipse-PCA samplers against
its reconstructions on one reference subset, and gathers the table (``--table``).

    python benchmarks/samplable_study.py --data celeba:../shared/data/celeba/img_align_celeba.zip \\
        --root runs/study --epochs 6 --n 1000 [--variants standard,noise-0.5] [--table]

Every step is an ``aegen`` command (printed before it runs), so any row can be re-run alone;
a variant whose run, z-points or evaluation exist is not redone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

# Train flags of each variant; the standard AE at z 256 is the seed's.
VARIANTS = {
    "standard": [],
    "noise-0.5": ["--latent-noise", "0.5"],
    "flip": ["--flip"],
    "rae-sn": ["--z-l2", "1e-3", "--spectral-norm"],
    "z64": ["--z-dim", "64"],
    "z128": ["--z-dim", "128"],
    "noise-0.25": ["--latent-noise", "0.25"],
    "noise-0.5+flip+l2": ["--latent-noise", "0.5", "--flip", "--z-l2", "1e-3"],
}
METHODS = "gaussian,gmm,ellipse-pca"


def run_step(cmd: list[str], log: Path) -> float:
    print("$", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    with open(log, "a") as fh:
        subprocess.run(cmd, check=True, stdout=fh, stderr=subprocess.STDOUT)
    return time.perf_counter() - t0


def run_variant(name: str, args) -> None:
    run = Path(args.root) / name
    log = Path(args.root) / f"{name}.log"
    walls = json.loads((run / "study_walls.json").read_text()) if (run / "study_walls.json").exists() else {}
    if "train" not in walls:
        resume = ["--resume"] if (run / "checkpoints" / "last.safetensors").exists() else []
        walls["train"] = run_step(["aegen", "train", "--data", args.data, "--out", str(run), "--epochs", str(args.epochs),
                                   "--seed", "0", "--heldout-fraction", "0.25", *VARIANTS[name], *resume], log)
    run.joinpath("study_walls.json").write_text(json.dumps(walls))
    if "encode" not in walls:
        walls["encode"] = run_step(["aegen", "encode", str(run)], log)
    run.joinpath("study_walls.json").write_text(json.dumps(walls))
    if "evaluate" not in walls:
        walls["evaluate"] = run_step(["aegen", "evaluate", str(run), "--methods", METHODS, "--n", str(args.n),
                                      "--repeats", "1", "--bootstrap", "40", "--seed", str(args.eval_seed), "--fid-inf",
                                      f"{METHODS},reconstruction", "--quiet"], log)
    run.joinpath("study_walls.json").write_text(json.dumps(walls))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="celeba:../shared/data/celeba/img_align_celeba.zip")
    parser.add_argument("--root", default="runs/study")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--eval-seed", type=int, default=0)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    Path(args.root).mkdir(parents=True, exist_ok=True)
    for name in args.variants.split(","):
        if name not in VARIANTS:
            sys.exit(f"unknown variant {name!r}: choose from {', '.join(VARIANTS)}")
        run_variant(name, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
