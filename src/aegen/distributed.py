"""Data-parallel training under ``torchrun``: gloo on CPU, nccl on GPU.

Outside ``torchrun`` (no ``WORLD_SIZE`` in the environment) everything here is a no-op, so
the training loop reads the same either way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as tdist


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @classmethod
    def from_env(cls) -> "DistContext":
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if not tdist.is_initialized():
            tdist.init_process_group(backend)
        rank = tdist.get_rank()
        device = torch.device("cpu")
        if backend == "nccl":
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            device = torch.device("cuda", local)
        return cls(rank, world, device)

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard_slice(self, batch_size: int) -> slice:
        """This rank's rows of every global batch: every world_size-th row from its rank."""
        return slice(self.rank, None, self.world_size)

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if not self.active:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def barrier(self) -> None:
        if self.active:
            tdist.barrier()

    def close(self) -> None:
        if self.active and tdist.is_initialized():
            tdist.destroy_process_group()
