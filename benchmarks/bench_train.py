"""Training, encoding and preprocessing speed.

Measures, in one process and on the same cached data:
- training images/s of aegen's loop (``aegen.train.train``) against a minimal PyTorch loop
  of the same network, optimiser and batch size (the ratio shows aegen's overhead);
- encoding images/s (``aegen.encode.encode_run``);
- first-time preprocessing images/s from the data source (a fresh cache).

    python benchmarks/bench_train.py --data celeba:../shared/data/celeba/img_align_celeba.zip --limit 4000
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time

import numpy as np
import torch


def minimal_loop(images: np.ndarray, rows: np.ndarray, epochs: int, batch_size: int, seed: int) -> float:
    """The plainest loop over the same network: returns images/s."""
    from aegen.model import ConvAutoencoder, ModelConfig

    torch.manual_seed(seed)
    model = ConvAutoencoder(ModelConfig())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    seen, t0 = 0, time.perf_counter()
    for epoch in range(epochs):
        order = rows[np.random.default_rng([seed, epoch]).permutation(len(rows))]
        for start in range(0, len(order), batch_size):
            x = torch.from_numpy(images[np.sort(order[start:start + batch_size])]).permute(0, 3, 1, 2).float() / 255
            loss = torch.nn.functional.mse_loss(model(x), x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(x)
    return seen / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="synthetic:n=4000")
    parser.add_argument("--limit", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()

    from aegen.data import load_dataset
    from aegen.encode import encode_run
    from aegen.run import Run
    from aegen.train import TrainConfig, train

    print("command:", " ".join(["python"] + [shlex.quote(a) for a in sys.argv]))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ds = load_dataset(args.data, 64, args.limit, cache_dir=f"{tmp}/cache", progress=False)
        prep = len(ds) / (time.perf_counter() - t0)
        print(f"preprocessing (first time, fresh cache): {prep:,.0f} images/s over {len(ds)} images")

        train_rows = ds.split(0.1, 0)[0]
        # Warm-up so that neither loop pays for first-call allocations.
        minimal_loop(ds.images, train_rows[:256], 1, args.batch_size, 0)
        cfg = TrainConfig(data=args.data, out=f"{tmp}/run", limit=args.limit, epochs=args.epochs,
                          batch_size=args.batch_size, progress=False, cache_dir=f"{tmp}/cache")
        results = {"aegen": [], "minimal": []}
        for rep in range(2):  # interleaved, so both loops see the same machine load
            t0 = time.perf_counter()
            run_dir = train(cfg if rep == 0 else TrainConfig(**{**cfg.__dict__, "out": f"{tmp}/run{rep}"}))
            log = np.genfromtxt(f"{run_dir}/train_log.csv", delimiter=",", names=True)
            results["aegen"].append(float(np.sum(log["epoch_seconds"] * log["images_per_s"]) / np.sum(log["epoch_seconds"])))
            results["minimal"].append(minimal_loop(ds.images, train_rows, args.epochs, args.batch_size, 0))
        aegen_ips, minimal_ips = max(results["aegen"]), max(results["minimal"])
        print(f"training, aegen loop:   {aegen_ips:,.1f} images/s (best of {len(results['aegen'])})")
        print(f"training, minimal loop: {minimal_ips:,.1f} images/s (best of {len(results['minimal'])})")
        print(f"ratio aegen / minimal:  {aegen_ips / minimal_ips:.3f}")

        run = Run.open(f"{tmp}/run")
        t0 = time.perf_counter()
        encode_run(run, progress=False)
        n = len(run.split_index["train"]) + len(run.split_index["heldout"])
        print(f"encoding: {n / (time.perf_counter() - t0):,.0f} images/s over {n} images")


if __name__ == "__main__":
    main()
