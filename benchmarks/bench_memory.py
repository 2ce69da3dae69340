"""Peak memory of preprocessing, encoding and analysing N synthetic faces, for several N.

    python benchmarks/bench_memory.py --sizes 50000 100000 200000

Protocol. One reference run is trained for 1 epoch on 2,000 synthetic faces (the weights
only need to be a real trained model; memory does not depend on them). For each N a second
run folder is made over ``synthetic:n=N`` with the same model configuration and the
reference checkpoint, exactly as ``aegen train`` lays it out. Then three steps each run in a
fresh Python process, as the commands do:

- prepare: render the N faces into the memory-mapped uint8 cache (``load_dataset``),
- encode: ``aegen encode`` (``encode_run``): train and held-out z-points, memory-mapped,
- analyze: ``aegen analyze`` with its defaults (``analyze_run``, figures included).

For each step the table gives the wall time, the peak resident set size (``ru_maxrss`` of
that process, from ``wait4``) and the peak anonymous memory (RssAnon in /proc, sampled every
20 ms). The resident set counts the pages of memory-mapped files the process has touched;
the kernel can drop those at any time, so the anonymous memory is the budget that has to
stay fixed as N grows. A process that only imports the same modules gives the baseline.

This script itself imports neither torch nor aegen: Linux carries a parent's peak RSS over
into a child it spawns, so a heavy parent would inflate every measured ``ru_maxrss``. The
reference training and the run folders are made in helper processes too.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

STEPS = {
    "baseline": "import aegen.encode, aegen.latent, aegen.run",
    "prepare": "from aegen.data import load_dataset; load_dataset({spec!r}, {size}, progress=False)",
    "encode": "from aegen.encode import encode_run; from aegen.run import Run; "
              "encode_run(Run.open({run!r}), progress=False)",
    "analyze": "from aegen.latent import analyze_run; from aegen.run import Run; "
               "analyze_run(Run.open({run!r}), progress=False)",
}


def _rss_anon_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def measure(code: str, env: dict) -> dict:
    """Run ``code`` in a fresh Python; wall time, peak RSS and sampled peak anonymous memory (MB)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    peak_anon = [0.0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            value = _rss_anon_mb(proc.pid)
            if value is not None:
                peak_anon[0] = max(peak_anon[0], value)
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"step failed with exit code {proc.returncode}: {code}")
    return {"wall_s": round(time.perf_counter() - start, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "peak_anon_mb": round(peak_anon[0], 1)}


# Runs in a helper process: a run folder over SPEC with the reference run's model and checkpoint.
MAKE_RUN = """
import json, shutil
from pathlib import Path
from aegen.data import load_dataset
from aegen.train import CHECKPOINT, TrainConfig, _prepare_run
reference, out, spec, cache = Path({reference!r}), Path({out!r}), {spec!r}, {cache!r}
saved = json.loads((reference / "config.json").read_text())
model, train_cfg = saved["model"], saved["train"]
cfg = TrainConfig(data=spec, out=str(out), image_size=model["image_size"], z_dim=model["z_dim"],
                  channels=tuple(model["channels"]), kernel_size=model["kernel_size"],
                  batch_norm=model["batch_norm"], activation=model["activation"], epochs=train_cfg["epochs"],
                  batch_size=train_cfg["batch_size"], lr=train_cfg["lr"], seed=train_cfg["seed"],
                  cache_dir=cache, progress=False)
dataset = load_dataset(spec, cfg.image_size, None, cache, progress=False)
# _prepare_run writes config.json and split.npz exactly as `aegen train` does.
_prepare_run(cfg, out, dataset, dataset.split(cfg.heldout_fraction, cfg.seed), "cpu")
(out / CHECKPOINT).parent.mkdir(parents=True, exist_ok=True)
shutil.copyfile(reference / CHECKPOINT, out / CHECKPOINT)
print(dataset.info["cache"])
"""

TRAIN_REFERENCE = """
from aegen.train import TrainConfig, train
train(TrainConfig(data="synthetic:n=2000,seed=0", out={out!r}, image_size={size}, z_dim={z_dim},
                  channels={channels!r}, epochs=1, cache_dir={cache!r}, progress=False))
"""


def helper(code: str, env: dict) -> str:
    """Run ``code`` in a helper Python process; returns its stdout."""
    return subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 100_000, 200_000])
    parser.add_argument("--image-size", type=int, default=32, choices=[32, 64])
    parser.add_argument("--z-dim", type=int, default=256)
    parser.add_argument("--channels", default="16,32,64,128", help="encoder widths of the model")
    parser.add_argument("--workdir", default=None, help="folder for runs and caches (default: a temporary one)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    print("command:", " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]), flush=True)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="aegen-bench-memory-"))
    cache = work / "cache"
    # One thread per process: the numbers then do not depend on the machine's core count
    # (each BLAS or OpenMP thread brings its own buffers).
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               AEGEN_CACHE_DIR=str(cache))
    channels = tuple(int(c) for c in args.channels.split(","))
    reference = work / "reference"
    helper(TRAIN_REFERENCE.format(out=str(reference), size=args.image_size, z_dim=args.z_dim, channels=channels,
                                  cache=str(cache)), env)
    results = [{"n": 0, "step": "baseline", **measure(STEPS["baseline"], env)}]
    try:
        for n in args.sizes:
            spec = f"synthetic:n={n},seed=1"
            results.append({"n": n, "step": "prepare",
                            **measure(STEPS["prepare"].format(spec=spec, size=args.image_size), env)})
            run = work / f"run-{n}"
            images = Path(helper(MAKE_RUN.format(reference=str(reference), out=str(run), spec=spec,
                                                 cache=str(cache)), env).strip())
            for step in ("encode", "analyze"):
                results.append({"n": n, "step": step, **measure(STEPS[step].format(run=str(run)), env)})
            z_mb = sum(p.stat().st_size for p in (run / "zpoints").glob("*.npy")) / 1024**2
            cache_mb = (images / "images.npy").stat().st_size / 1024**2
            results[-1].update(zpoints_mb=round(z_mb, 1), cache_mb=round(cache_mb, 1))
            print(f"N = {n:,}: prepare, encode and analyze measured", flush=True)
            shutil.rmtree(run)
            shutil.rmtree(images)  # one data set on disk at a time
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)

    print(f"\nimage size {args.image_size}, z_dim {args.z_dim}, channels {args.channels}; one thread per process")
    print(f"{'N':>8} {'step':>9} {'wall s':>7} {'peak RSS MB':>12} {'peak anon MB':>13}")
    for r in results:
        print(f"{r['n']:>8,} {r['step']:>9} {r['wall_s']:>7.1f} {r['peak_rss_mb']:>12.0f} {r['peak_anon_mb']:>13.0f}")
    sizes = {r["n"]: r for r in results if r["step"] == "analyze"}
    for n, r in sizes.items():
        print(f"N = {n:,}: z-points {r['zpoints_mb']:.0f} MB on disk, image cache {r['cache_mb']:.0f} MB on disk")
    if args.json:
        from aegen.io import write_json  # after the measurements: numpy only, no torch

        write_json(args.json, {"command": sys.argv, "image_size": args.image_size, "z_dim": args.z_dim,
                               "channels": channels, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
