"""Time aegen.latent.analyze_zpoints on a synthetic correlated cloud; report wall time and peak memory.

    python benchmarks/bench_analysis.py --n 200000 --d 256

The cloud is normal, off-centre, with principal standard deviations from 3 down to 0.01 along
random axes, written chunk by chunk to a temporary .npy file and analysed memory-mapped,
exactly as ``aegen analyze`` reads a run's z-points.
"""

from __future__ import annotations

import argparse
import resource
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from aegen.latent import analyze_zpoints


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    scale = 1 / 1024**2 if sys.platform == "darwin" else 1 / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def write_cloud(path: Path, n: int, d: int, seed: int, chunk: int = 20_000) -> None:
    """A normal (n, d) float32 cloud with a decaying spectrum along random axes, saved as .npy."""
    rng = np.random.default_rng(seed)
    axes, _ = np.linalg.qr(rng.standard_normal((d, d)))
    stds = np.geomspace(3.0, 0.01, d)
    centre = rng.normal(0.5, 0.5, d)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        out[start:start + m] = (rng.standard_normal((m, d)) * stds) @ axes.T + centre
    out.flush()
    del out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="analysis folder (default: a temporary folder)")
    args = parser.parse_args()
    print("command:", " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]), flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "zpoints.npy"
        t0 = time.perf_counter()
        write_cloud(data, args.n, args.d, args.seed)
        print(f"generated {args.n:,} x {args.d} float32 z-points in {time.perf_counter() - t0:.1f} s "
              f"(peak RSS so far {peak_rss_mb():.0f} MB)", flush=True)
        Z = np.load(data, mmap_mode="r", allow_pickle=False)
        out = Path(args.out) if args.out else Path(tmp) / "analysis"
        t0 = time.perf_counter()
        summary = analyze_zpoints(Z, out, random_state=args.seed, progress=True)
        wall = time.perf_counter() - t0
        print(f"analyze_zpoints: {wall:.1f} s wall, peak RSS {peak_rss_mb():.0f} MB "
              f"(the z-points alone are {Z.nbytes / 1024**2:.0f} MB)")
        print(f"  figures: {len(summary['figures'])}, skipped: {summary['skipped'] or 'none'}")
        print(f"  PCA components for 90% / 99% of the variance: {summary['pca']['n_components_90']} / "
              f"{summary['pca']['n_components_99']}")
        print(f"  output: {out}" + (" (deleted with the temporary folder)" if not args.out else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
