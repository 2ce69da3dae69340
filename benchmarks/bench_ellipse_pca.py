"""Vectors per second of the literal ellipse-pca process and its numpy and numba backends, in one run.

    python benchmarks/bench_ellipse_pca.py [--n-components 50 100 256] [--n-literal 100]
                                           [--n-fast 100000] [--jobs 1 2] [--repeat 1] [--seed 0]

z-points: 20,000 draws from a random correlated Gaussian in d = 256 (fixed seed). For each
n_components an EllipsePCASampler is fitted on them; then the literal implementation
(one vector at a time, a Python loop over all pairs) and the fast one, with each backend
(numpy: vectorised; numba: compiled kernel) and each thread count, generate vectors in the
PCA frame from the same fitted half-widths. Each row gives vectors/s by wall clock and by CPU
time of this process (on a shared machine the wall clock mostly measures how much CPU the
scheduler granted; the CPU time of x2 counts both threads), and the speed-up over the literal
by both. The last row of each K is the full ``sample()`` (latent float32 vectors) with the
default backend. With ``--repeat R`` every figure is the median of R runs.

The numba kernel is compiled (or loaded from numba's cache) by a warm-up call before any
timing; that time is printed separately. To time a cold compile, point NUMBA_CACHE_DIR at an
empty folder.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

import numpy as np

from aegen.samplers import EllipsePCASampler, ellipse_pca_literal, unit_ellipse_process
from aegen.samplers.ellipse_process import _numba_kernel, resolve_backend

D = 256
N_POINTS = 20_000


def correlated_cloud(seed: int) -> np.ndarray:
    """(N_POINTS, D) float32 z-points of a random Gaussian with decaying, correlated axes."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(D, D)) * np.geomspace(1.0, 0.02, D)
    return (rng.normal(size=(N_POINTS, D)) @ mixing.T * 0.1 + rng.normal(size=D) * 0.3).astype(np.float32)


def timed(function):
    """(result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def rates(function, n: int, repeat: int) -> tuple[float, float]:
    """Median vectors/s (wall, CPU) of ``function`` producing n vectors, over ``repeat`` runs."""
    runs = [timed(function)[1:] for _ in range(repeat)]
    wall = float(np.median([n / w for w, _ in runs]))
    cpu = float(np.median([n / max(c, 1e-9) for _, c in runs]))
    return wall, cpu


def warm_up_numba() -> str:
    """Compile or load the numba kernel outside the timed region; a line describing it."""
    kernel = _numba_kernel()
    if kernel is None:
        return "numba: not installed (numba rows skipped)"
    import numba

    _, wall, cpu = timed(lambda: unit_ellipse_process(2, 3, random_state=0, backend="numba"))
    stats = kernel.simulate_rows.stats
    how = "loaded from numba's cache" if stats.cache_hits and not stats.cache_misses else "compiled"
    return f"numba {numba.__version__}: kernel {how} in {wall:.2f} s wall / {cpu:.2f} s CPU (not timed below)"


def _number(rate: float) -> str:
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:,.1f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-components", type=int, nargs="+", default=[50, 100, 256])
    parser.add_argument("--n-literal", type=int, default=100, help="vectors for the literal implementation")
    parser.add_argument("--n-fast", type=int, default=100_000, help="vectors for the fast implementations")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="threads of the fast implementations")
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure (the median is shown)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    print("command:", shlex.join([os.path.basename(sys.executable)] + sys.argv))
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} at start; numpy {np.__version__}; "
          f"nice {os.nice(0) if hasattr(os, 'nice') else '?'}")
    print(warm_up_numba())
    backends = ["numpy"] + (["numba"] if _numba_kernel() is not None else [])
    cloud = correlated_cloud(args.seed)
    print("vectors/s and speed-up over the literal, by wall clock and by CPU time")
    header = (f"{'K':>4}  {'implementation':<22} {'vectors/s wall':>15} {'vectors/s CPU':>14} "
              f"{'x literal wall':>15} {'x literal CPU':>14}")
    print(header)
    print("-" * len(header))
    for k in args.n_components:
        sampler = EllipsePCASampler(n_components=k, fact=0.7, random_state=args.seed).fit(cloud)
        scales = sampler.fact * sampler.half_widths_
        literal = rates(lambda: ellipse_pca_literal(scales, args.n_literal, random_state=args.seed),
                        args.n_literal, args.repeat)

        def row(name: str, measured: tuple[float, float]) -> None:
            print(f"{k:>4}  {name:<22} {_number(measured[0]):>15} {_number(measured[1]):>14} "
                  f"{measured[0] / literal[0]:>14,.0f}x {measured[1] / literal[1]:>13,.0f}x", flush=True)

        row("literal", literal)
        for backend in backends:
            for jobs in args.jobs:
                row(f"{backend} x{jobs}", rates(
                    lambda: unit_ellipse_process(args.n_fast, k, random_state=args.seed, n_jobs=jobs,
                                                 backend=backend) * scales, args.n_fast, args.repeat))
        sampler.n_jobs = max(args.jobs)
        row(f"sample() {resolve_backend('auto')} x{sampler.n_jobs}",
            rates(lambda: sampler.sample(args.n_fast, random_state=args.seed), args.n_fast, args.repeat))
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    print(f"load average {load[0]:.2f} at the end; {args.n_literal} literal and {args.n_fast:,} fast vectors "
          f"per run; median of {args.repeat} run(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
