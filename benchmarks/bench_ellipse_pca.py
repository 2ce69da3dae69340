"""Vectors per second of the literal and the fast ellipse-pca process, measured in one run.

    python benchmarks/bench_ellipse_pca.py [--n-components 50 100 256] [--n-literal 100]
                                           [--n-fast 100000] [--jobs 1 2] [--seed 0]

z-points: 20,000 draws from a random correlated Gaussian in d = 256 (fixed seed). For each
n_components an EllipsePCASampler is fitted on them; then the literal implementation
(one vector at a time, a Python loop over all pairs) and the fast one (vectorised, exact)
generate vectors in the PCA frame from the same fitted half-widths. The table gives vectors/s
by wall clock and by CPU time of this process (on a shared machine the wall clock mostly
measures how much CPU the scheduler granted), the speed-ups by both, and the full ``sample()``
rate (vectors in latent coordinates, float32, wall clock).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

import numpy as np

from aegen.samplers import EllipsePCASampler, ellipse_pca_literal, unit_ellipse_process

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


def _rates(wall_rate: float, cpu_rate: float) -> str:
    return f"{wall_rate:,.0f} / {cpu_rate:,.0f}" if wall_rate >= 100 else f"{wall_rate:,.1f} / {cpu_rate:,.1f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-components", type=int, nargs="+", default=[50, 100, 256])
    parser.add_argument("--n-literal", type=int, default=100, help="vectors for the literal implementation")
    parser.add_argument("--n-fast", type=int, default=100_000, help="vectors for the fast implementation")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="threads of the fast implementation")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    print("command:", shlex.join([os.path.basename(sys.executable)] + sys.argv))
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} at start; numpy {np.__version__}")
    cloud = correlated_cloud(args.seed)
    print("rates in vectors/s as wall clock / CPU time; speed-up of fast over literal as wall / CPU")
    header = (f"{'K':>4} {'literal':>17} "
              + " ".join(f"{f'fast x{j}':>19} {f'speed-up x{j}':>15}" for j in args.jobs)
              + f" {'sample()':>9}")
    print(header)
    print("-" * len(header))
    for k in args.n_components:
        sampler = EllipsePCASampler(n_components=k, fact=0.7, random_state=args.seed).fit(cloud)
        scales = sampler.fact * sampler.half_widths_
        _, lit_wall, lit_cpu = timed(lambda: ellipse_pca_literal(scales, args.n_literal, random_state=args.seed))
        literal = (args.n_literal / lit_wall, args.n_literal / max(lit_cpu, 1e-9))
        cells = [f"{k:>4} {_rates(*literal):>17}"]
        for jobs in args.jobs:
            _, wall, cpu = timed(lambda: unit_ellipse_process(args.n_fast, k, random_state=args.seed,
                                                              n_jobs=jobs) * scales)
            fast = (args.n_fast / wall, args.n_fast / max(cpu, 1e-9))
            ratio = f"{fast[0] / literal[0]:,.0f}x / {fast[1] / literal[1]:,.0f}x"
            cells.append(f"{_rates(*fast):>19} {ratio:>15}")
        sampler.n_jobs = max(args.jobs)
        _, wall, _ = timed(lambda: sampler.sample(args.n_fast, random_state=args.seed))
        cells.append(f"{args.n_fast / wall:>9,.0f}")
        print(" ".join(cells), flush=True)
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    print(f"load average {load[0]:.2f} at the end; {args.n_literal} literal and {args.n_fast:,} fast vectors "
          f"per measurement; CPU time of x2 counts both threads")
    return 0


if __name__ == "__main__":
    sys.exit(main())
