"""Throughput of the synthetic face renderer, in images per second, at several image sizes.

    python benchmarks/bench_synthetic.py [--count 2048] [--repeats 3] [--sizes 64 96 128]

The renderer runs on one core. It reports the best of several repeats both as wall-clock
rate and as CPU-time rate (the time the process itself ran): on a busy machine the two differ
and the CPU-time rate is the one that carries over to an idle machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time

import numpy as np

from aegen.data.synthetic import render_faces


def measure(size: int, count: int, repeats: int, seed: int) -> tuple[float, float]:
    """Best (wall, CPU) images/s over `repeats` renders of `count` new faces each."""
    render_faces(0, min(count, 64), size, seed)  # warm-up: imports, allocator, caches
    best_wall = best_cpu = float("inf")
    for repeat in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        render_faces(repeat * count, count, size, seed)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return count / best_wall, count / best_cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2048, help="faces per repeat (default: 2048)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per size; the best counts (default: 3)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 128], help="image sizes (default: 64 96 128)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    print("command:", " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"1-min load average {load:.1f}; numpy {np.__version__}")
    print(f"{args.count} faces x best of {args.repeats} repeats, seed {args.seed}")
    print(f"{'size':>6} {'images/s (wall)':>16} {'images/s (CPU time)':>20}")
    for size in args.sizes:
        wall_rate, cpu_rate = measure(size, args.count, args.repeats, args.seed)
        print(f"{size:>6} {wall_rate:>16.0f} {cpu_rate:>20.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
