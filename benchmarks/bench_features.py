"""Speed and accuracy of every Inception-v3 runtime against the exact torch float32 path, on real faces.

    python benchmarks/bench_features.py [--n 500] [--batch-size 32] [--threads T] [--out bench.json]
                                        [--data celeba:PATH] [--variants torch-fp32,openvino-bf16,...]
                                        [--features-out features.npz]

Images: the first 2N CelebA images, cropped and resized to 64 px by aegen's own loader
(:func:`aegen.data.load_dataset`, so its preprocessing cache is used): set A = images 1..N,
set B = images N+1..2N (other real faces), set C = set B blurred (Gaussian, radius 1 px), a
stand-in for a decoder's blurry output. Each variant (runtime x precision) computes the
features of all 3N images through :class:`aegen.evaluate.InceptionFeatures`, the
preprocessing included. After a warm-up (load, conversion when not cached, two batches), the
variants are timed in turns, one chunk of images each, so that a busy machine slows all of
them alike. Printed per variant: images per second by wall clock and per CPU-second of this
process (all its threads), both as a ratio to torch float32; the largest absolute and relative
feature difference from torch float32; FID(A, B) and FID(A, C) (aegen's
``fid_from_features``) and their relative deviation from the torch float32 values. A runtime
whose package is missing, or whose conversion fails, is listed with the reason.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from aegen.data import load_dataset
from aegen.evaluate.features.backends import feature_difference
from aegen.evaluate.features.extractors import FeaturesUnavailable, InceptionFeatures
from aegen.evaluate.metrics.distances import fid_from_features
from aegen.io import save_npz, write_json

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "celeba" / "img_align_celeba.zip"
VARIANTS = ("torch-fp32", "torch-bf16", "openvino-fp32", "openvino-bf16", "onnxruntime-fp32")
REFERENCE = "torch-fp32"
BLUR_RADIUS = 1.0


def blurred(images: np.ndarray, radius: float) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(radius))) for img in images])


def image_sets(spec: str, n: int) -> dict[str, np.ndarray]:
    dataset = load_dataset(spec, 64, limit=2 * n, progress=False)
    if len(dataset) < 2 * n:
        raise SystemExit(f"bench_features: {spec} has only {len(dataset)} usable images, need {2 * n}")
    a, b = np.asarray(dataset.images[:n]), np.asarray(dataset.images[n:2 * n])
    return {"A": a, "B": b, "C": blurred(b, BLUR_RADIUS)}


def build(variants: list[str], batch_size: int, threads: int) -> tuple[dict, dict]:
    """Extractors that could be built and loaded (with setup times), and the reasons for the others."""
    ready, missing = {}, {}
    for name in variants:
        backend, precision = name.split("-")
        try:
            start = time.perf_counter()
            extractor = InceptionFeatures(batch_size, progress=False, backend=backend, precision=precision,
                                          threads=threads)
            extractor.load()
            ready[name] = {"extractor": extractor, "load_s": time.perf_counter() - start,
                           "converted": bool(extractor.runner.converted_)}
        except FeaturesUnavailable as exc:
            missing[name] = str(exc)
    return ready, missing


def timed_features(ready: dict, images: np.ndarray, chunk: int) -> dict:
    """Features of ``images`` for every variant, timed in turns chunk by chunk."""
    for entry in ready.values():  # warm-up: TorchScript profiles its first calls, OpenVINO allocates
        start = time.perf_counter()
        for _ in range(2):
            entry["extractor"].transform(images[:entry["extractor"].batch_size])
        entry["warmup_s"] = time.perf_counter() - start
    parts = {name: [] for name in ready}
    wall = dict.fromkeys(ready, 0.0)
    cpu = dict.fromkeys(ready, 0.0)
    for start in range(0, len(images), chunk):
        block = images[start:start + chunk]
        for name, entry in ready.items():
            w, c = time.perf_counter(), time.process_time()
            parts[name].append(entry["extractor"].transform(block))
            wall[name] += time.perf_counter() - w
            cpu[name] += time.process_time() - c
        print(f"  {min(start + chunk, len(images))}/{len(images)} images", file=sys.stderr, flush=True)
    return {name: {"features": np.concatenate(parts[name]), "wall_s": wall[name], "cpu_s": cpu[name]}
            for name in ready}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="images per set (default 500; 3N are featurised)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads per runtime (default: torch's)")
    parser.add_argument("--data", default=f"celeba:{DEFAULT_DATA}", help="aegen data spec of the real images")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from {VARIANTS}")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--features-out", default=None, help="save every variant's (3N, 2048) features as .npz here")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if args.n < 2 or args.batch_size < 1 or (args.threads is not None and args.threads < 1):
        parser.error("--n must be >= 2, --batch-size and --threads >= 1")
    if REFERENCE not in variants or any(v not in VARIANTS for v in variants):
        parser.error(f"--variants must include {REFERENCE} and come from {VARIANTS}")
    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)

    sets = image_sets(args.data, args.n)
    images = np.concatenate([sets["A"], sets["B"], sets["C"]])
    ready, missing = build(variants, args.batch_size, threads)
    if REFERENCE not in ready:
        print(f"bench_features: {missing[REFERENCE]}", file=sys.stderr)
        return 2
    print(f"featurising {len(images)} images ({args.n} per set) with {len(ready)} variants, {threads} threads",
          file=sys.stderr, flush=True)
    results = timed_features(ready, images, chunk=4 * args.batch_size)

    n = args.n
    ref = results[REFERENCE]
    ref_fid = {pair: fid_from_features(ref["features"][:n], ref["features"][k * n:(k + 1) * n])
               for pair, k in (("A-B", 1), ("A-C", 2))}
    rows = {}
    for name, res in results.items():
        entry = ready[name]
        fids = {pair: fid_from_features(res["features"][:n], res["features"][k * n:(k + 1) * n])
                for pair, k in (("A-B", 1), ("A-C", 2))}
        rows[name] = {
            "id": entry["extractor"].id, "precision_run": entry["extractor"].precision,
            "load_s": round(entry["load_s"], 2), "converted_now": entry["converted"],
            "warmup_s": round(entry["warmup_s"], 2),
            "images_per_s": len(images) / res["wall_s"], "images_per_cpu_s": len(images) / res["cpu_s"],
            "speedup_wall": ref["wall_s"] / res["wall_s"], "speedup_cpu": ref["cpu_s"] / res["cpu_s"],
            **{f"feature_{k}": v for k, v in feature_difference(res["features"], ref["features"]).items()},
            "fid": fids, "fid_rel_deviation": {p: fids[p] / ref_fid[p] - 1.0 for p in fids},
        }
    report = {
        "n_per_set": n, "sets": {"A": f"CelebA images 1..{n}", "B": f"CelebA images {n + 1}..{2 * n}",
                                 "C": f"set B, Gaussian blur radius {BLUR_RADIUS} px"},
        "data": args.data, "image_size": 64, "batch_size": args.batch_size, "threads": threads,
        "cpus": os.cpu_count(), "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "torch": torch.__version__, "reference": REFERENCE, "variants": rows, "unavailable": missing,
    }
    print(f"Inception-v3 features of {len(images)} CelebA 64 px images ({n} per set), batch {args.batch_size}, "
          f"{threads} threads, load average {report['load_average_1min_at_end']} on {report['cpus']} CPUs")
    print(f"{'variant':17} {'img/s':>6} {'img/cpu-s':>9} {'x wall':>6} {'x cpu':>6} {'max abs':>8} {'max rel':>8} "
          f"{'FID A-B':>8} {'dev':>7} {'FID A-C':>8} {'dev':>7}")
    for name, r in rows.items():
        print(f"{name:17} {r['images_per_s']:6.2f} {r['images_per_cpu_s']:9.2f} {r['speedup_wall']:6.2f} "
              f"{r['speedup_cpu']:6.2f} {r['feature_max_abs']:8.2g} {r['feature_max_rel']:8.2g} "
              f"{r['fid']['A-B']:8.3f} {r['fid_rel_deviation']['A-B']:+7.2%} "
              f"{r['fid']['A-C']:8.3f} {r['fid_rel_deviation']['A-C']:+7.2%}")
    for name, reason in missing.items():
        print(f"{name:17} unavailable: {reason}")
    if args.out:
        write_json(args.out, report)
    if args.features_out:
        save_npz(args.features_out, **{name.replace("-", "_"): res["features"] for name, res in results.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
