"""Cost of the samplable-latent training options: seconds per optimiser step, as a ratio to
the seed's plain step, measured in the same process (64 px, batch 128, z 256, CPU).

    python benchmarks/bench_train_options.py [--steps 20]
"""

from __future__ import annotations

import argparse
import time

import torch

from aegen.model import ConvAutoencoder, ModelConfig
from aegen.train import TrainConfig, TrainingObjective, step_generator

VARIANTS = {
    "plain": ({}, {}),
    "latent noise 0.5": ({}, {"latent_noise": 0.5}),
    "z L2 1e-3": ({}, {"z_l2": 1e-3}),
    "spectral norm": ({"spectral_norm": True}, {}),
    "gradient penalty 1e-2": ({}, {"decoder_gp": 1e-2}),
}


def seconds_per_step(model_kw: dict, train_kw: dict, steps: int, batch: int) -> float:
    torch.manual_seed(0)
    model = ConvAutoencoder(ModelConfig(**model_kw))
    objective = TrainingObjective(model, TrainConfig(**train_kw))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 3, 64, 64)
    generator = step_generator(0, 0, 0)
    for i in range(steps + 2):
        if i == 2:  # two warm-up steps
            t0 = time.perf_counter()
        loss, _ = objective(x, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size}, {args.steps} steps")
    base = None
    for name, (model_kw, train_kw) in VARIANTS.items():
        s = seconds_per_step(model_kw, train_kw, args.steps, args.batch_size)
        base = base or s
        print(f"{name:24s} {s * 1000:7.1f} ms/step  {s / base:5.2f}x plain")


if __name__ == "__main__":
    main()
