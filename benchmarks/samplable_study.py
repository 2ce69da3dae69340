"""The samplable-latent study: which property of the autoencoder lets its latent space be sampled.

Trains one autoencoder per variant on the same data, split rule and seed with the same
budget (epochs), encodes it, evaluates the Gaussian, GMM and ellipse-PCA samplers against
its reconstructions on one reference subset, and gathers the table (``--table``).

    python benchmarks/samplable_study.py --data celeba:../shared/data/celeba/img_align_celeba.zip \\
        --root runs/study --epochs 25 --n 2000 [--variants standard,flip] [--table]

A screen at a few epochs cannot rank the options: at 4 epochs every sampler is within 5-11% of
the blurry reconstructions (docs/RESULTS.md), the gap opens as the decoder learns detail.

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
    "z64+flip": ["--z-dim", "64", "--flip"],
    "z128+flip": ["--z-dim", "128", "--flip"],
    "rae-sn+flip": ["--z-l2", "1e-3", "--spectral-norm", "--flip"],
    # A sharper decoder at small z: twice the conv widths (about 4x the compute) and a cosine rate.
    "z64+flip+wide": ["--z-dim", "64", "--flip", "--channels", "64,128,256,512", "--lr-schedule", "cosine"],
    "z64+flip+cosine": ["--z-dim", "64", "--flip", "--lr-schedule", "cosine"],
    # A sharper decoder by its loss: a patch discriminator from the 6th epoch on (aegen.adversarial).
    "z64+flip+adv": ["--z-dim", "64", "--flip", "--adversarial", "0.5", "--adversarial-start", "5"],
    "z128+flip+adv0.1": ["--z-dim", "128", "--flip", "--adversarial", "0.1", "--adversarial-start", "5"],
    "z64+flip+adv0.1": ["--z-dim", "64", "--flip", "--adversarial", "0.1", "--adversarial-start", "5"],
    "z128+flip+adv0.25": ["--z-dim", "128", "--flip", "--adversarial", "0.25", "--adversarial-start", "5"],
    # The seed's autoencoder (z 256, no flips) with the adversarial term alone: paired with "standard".
    "adv0.1": ["--adversarial", "0.1", "--adversarial-start", "5"],
    # The decoder also trained on Gaussian draws around the batch's codes (--adversarial-prior).
    "z128+flip+adv0.1+prior0.1": ["--z-dim", "128", "--flip", "--adversarial", "0.1", "--adversarial-prior", "0.1",
                                  "--adversarial-start", "5"],
    # The best z 128 recipe with a decoder that cannot paint a checkerboard (resize-convolution).
    "z128+flip+adv0.1+nearest": ["--z-dim", "128", "--flip", "--adversarial", "0.1", "--adversarial-start", "5",
                                 "--upsampling", "nearest"],
    # The two next levers on the ratio: a stronger adversarial weight (it made texture with transposed
    # convolutions) and a smaller latent, both with the resize-convolution decoder.
    "z128+flip+adv0.25+nearest": ["--z-dim", "128", "--flip", "--adversarial", "0.25", "--adversarial-start", "5",
                                  "--upsampling", "nearest"],
    "z64+flip+adv0.1+nearest": ["--z-dim", "64", "--flip", "--adversarial", "0.1", "--adversarial-start", "5",
                                "--upsampling", "nearest"],
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
    walls_file = run / "study_walls.json"
    walls = json.loads(walls_file.read_text()) if walls_file.exists() else {}
    if "train" not in walls:
        resume = ["--resume"] if (run / "checkpoints" / "last.safetensors").exists() else []
        walls["train"] = run_step(["aegen", "train", "--data", args.data, "--out", str(run), "--epochs", str(args.epochs),
                                   "--seed", "0", "--heldout-fraction", "0.25", *VARIANTS[name], *resume], log)
    run.joinpath("study_walls.json").write_text(json.dumps(walls))
    if "encode" not in walls:
        walls["encode"] = run_step(["aegen", "encode", str(run)], log)
    run.joinpath("study_walls.json").write_text(json.dumps(walls))
    if "evaluate" not in walls:
        # ellipse-pca keeps 100 PCA components by default; a smaller z has fewer: use all of them.
        z_dim = json.loads((run / "config.json").read_text())["model"]["z_dim"]
        small_z = ["--param", f"ellipse-pca:n_components={z_dim}"] if z_dim < 100 else []
        walls["evaluate"] = run_step(["aegen", "evaluate", str(run), "--methods", METHODS, *small_z, "--n", str(args.n),
                                      "--repeats", "1", "--bootstrap", "40", "--seed", str(args.eval_seed), "--fid-inf",
                                      f"{METHODS},reconstruction", "--quiet"], log)
    run.joinpath("study_walls.json").write_text(json.dumps(walls))


def _fmt(v, digits=1):
    return "–" if v is None else f"{v:.{digits}f}"


def _interval(row: dict, key: str = "fid") -> str:
    if row.get(f"{key}_low") is None:
        return _fmt(row.get(key))
    return f"{row[key]:.1f} [{row[f'{key}_low']:.1f}, {row[f'{key}_high']:.1f}]"


def cloud_normality(run_dir: Path) -> dict:
    """Is the cloud closer to normal: held-out codes whitened by the training moments.

    Mardia's kurtosis z of the training codes, and the KS distance of the held-out squared
    Mahalanobis radii from chi2(d) (0: exactly the radii of a normal cloud).
    """
    from scipy import stats

    from aegen.latent.normality import mardia_kurtosis
    from aegen.latent.pca import LatentPCA
    from aegen.run import Run

    run = Run.open(run_dir)
    train = run.zpoints("train")
    r_sq = LatentPCA().fit(train).mahalanobis_sq(run.zpoints("heldout"))
    return {"mardia_kurtosis_z": mardia_kurtosis(train)["z"],
            "radius_ks": float(stats.kstest(r_sq, "chi2", args=(train.shape[1],)).statistic)}


def study_row(name: str, root: Path) -> dict:
    """One autoencoder's row, read from what its commands wrote."""
    import csv

    from aegen.evaluate.protocol.rows import row_label

    run = root / name
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    rows = {r["method"]: r for r in metrics["rows"]}
    recon = rows["reconstruction"]
    # Every sampler row the evaluation scored (learned priors added by hand included).
    samplers = {m: r for m, r in rows.items() if r.get("kind") == "sampler" and r.get("fid") is not None}
    best = min(samplers, key=lambda m: samplers[m]["fid"])
    # Paired differences name rows by their labels (method and parameters).
    best_label = row_label(best, samplers[best].get("params"))
    diff = next(d for d in metrics["differences"]["fid"] if {d["a"], d["b"]} == {best_label, "reconstruction"})
    sign = 1 if diff["a"] == best_label else -1
    low, high = sorted((sign * diff["low"], sign * diff["high"]))
    log = list(csv.DictReader(open(run / "train_log.csv")))
    walls_file = run / "study_walls.json"
    walls = json.loads(walls_file.read_text()) if walls_file.exists() else {}
    return {"variant": name, "flags": " ".join(VARIANTS[name]) or "(the seed's AE)",
            "epochs": len(log), "heldout_mse": float(log[-1]["heldout_mse"]),
            "train_minutes": walls.get("train", float("nan")) / 60, "evaluate_minutes": walls.get("evaluate", 0) / 60,
            "n": recon["n"], "reconstruction": _interval(recon),
            **{m: _interval(r) for m, r in samplers.items()},
            "best": best, "ratio": samplers[best]["fid"] / recon["fid"],
            # Conditional on the reconstruction's FID: the paired difference's interval over it.
            "ratio_low": 1 + low / recon["fid"], "ratio_high": 1 + high / recon["fid"],
            "best_fid_inf": samplers[best].get("fid_inf"), "reconstruction_fid_inf": recon.get("fid_inf"),
            "best_face_rate": samplers[best].get("face_rate"),
            **cloud_normality(run)}


def print_table(names: list[str], root: Path) -> None:
    rows = [study_row(n, root) for n in names if (root / n / "eval" / "metrics.json").exists()]
    (root / "study.json").write_text(json.dumps(rows, indent=1))
    cols = ["autoencoder", "held-out MSE", "train min", "reconstruction FID", *METHODS.split(","),
            "best / reconstruction [95%]", "FID∞ best / recon", "Mardia kurtosis z", "radius KS"]
    print("| " + " | ".join(cols) + " |")
    print("|" + " --- |" * len(cols))
    for r in rows:
        print(f"| {r['variant']} (`{r['flags']}`) | {r['heldout_mse']:.5f} | {r['train_minutes']:.0f} | "
              f"{r['reconstruction']} | " + " | ".join(r.get(m, "–") for m in METHODS.split(",")) +
              f" | {r['ratio']:.3f} [{r['ratio_low']:.3f}, {r['ratio_high']:.3f}] ({r['best']}) | "
              f"{_fmt(r['best_fid_inf'])} / {_fmt(r['reconstruction_fid_inf'])} | "
              f"{r['mardia_kurtosis_z']:.0f} | {r['radius_ks']:.3f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="celeba:../shared/data/celeba/img_align_celeba.zip")
    parser.add_argument("--root", default="runs/study")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--eval-seed", type=int, default=3000, help="the study's reference seed (default 3000)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--table", action="store_true", help="only print the table of the variants done")
    args = parser.parse_args()
    if args.table:
        print_table(args.variants.split(","), Path(args.root))
        return 0
    Path(args.root).mkdir(parents=True, exist_ok=True)
    for name in args.variants.split(","):
        if name not in VARIANTS:
            sys.exit(f"unknown variant {name!r}: choose from {', '.join(VARIANTS)}")
        run_variant(name, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
