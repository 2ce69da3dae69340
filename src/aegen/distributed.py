"""Data-parallel training and encoding under ``torchrun``: gloo on CPU, nccl on GPU.

Outside ``torchrun`` (no ``WORLD_SIZE`` in the environment) everything here is a no-op, so
the training loop and the encoder read the same either way.

Conventions shared by every command that runs under ``torchrun``:

- Rank 0 writes every file; the other ranks only compute and take part in the collectives.
- Work that fills a shared cache (the preprocessed images) runs on rank 0 first, then on
  the first rank of each other node, then everywhere else (:meth:`DistContext.main_first`),
  so that no two processes build the same cache at once.
- A global batch of ``B`` rows is split row by row: rank ``r`` takes rows ``r, r + W, ...``
  (``W`` ranks). Each rank's loss is weighted by its share of the batch
  (:meth:`DistContext.loss_weight`), so the gradients DistributedDataParallel averages are
  those of the mean over the whole batch even when the shards differ in size. A final batch
  with fewer rows than ranks is skipped (:meth:`DistContext.usable_batch`): every rank must
  take part in every step, and a rank with no rows has nothing to contribute.
- A process creates its process group once and keeps it until it exits, so one process can
  run several commands (train, then encode) in the same group.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.distributed as tdist


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> "DistContext":
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if not tdist.is_initialized():
            tdist.init_process_group(backend)
            # One group per process, kept for every later command of the process (train, then
            # encode): re-creating the default group under torchrun can hang in its rendezvous.
            atexit.register(_destroy_group)
        rank = tdist.get_rank()
        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device("cpu")
        if backend == "nccl":
            torch.cuda.set_device(local)
            device = torch.device("cuda", local)
        return cls(rank, world, device, local)

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard_rows(self, batch: np.ndarray) -> np.ndarray:
        """This rank's rows of a global batch (B,): every world_size-th row from its rank."""
        return batch[self.rank::self.world_size]

    def usable_batch(self, n_batch: int) -> bool:
        """Whether a global batch of ``n_batch`` rows gives every rank at least one row."""
        return n_batch >= self.world_size

    def loss_weight(self, n_local: int, n_batch: int) -> float:
        """Factor on this rank's mean loss over ``n_local`` rows of an ``n_batch``-row batch.

        DistributedDataParallel averages gradients over ranks; weighting each rank's mean by
        ``n_local * world_size / n_batch`` makes that average the gradient of the mean over the
        whole batch. On one process the factor is exactly 1.0, which leaves results unchanged.
        """
        return n_local * self.world_size / n_batch

    def sum_over_ranks(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` summed over every rank, in place (each rank gets the sum); itself outside torchrun."""
        if self.active:
            tdist.all_reduce(tensor, op=tdist.ReduceOp.SUM)
        return tensor

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if not self.active:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def barrier(self) -> None:
        if self.active:
            tdist.barrier()

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """Run the block on rank 0, then on the first rank of every other node, then on the rest.

        For work that fills a cache on disk: rank 0 builds it; a node that shares rank 0's
        filesystem then finds it complete, a node that does not builds its own copy once.
        Every rank passes the same two barriers, so the ranks stay in step.
        """
        turn = 0 if self.is_main else (1 if self.local_rank == 0 else 2)
        for _ in range(turn):
            self.barrier()
        yield
        for _ in range(2 - turn):
            self.barrier()

    def gather_rows(self, rows: np.ndarray) -> np.ndarray | None:
        """Concatenate every rank's (n_r, ...) array in rank order on rank 0; None on the others.

        The arrays may differ in length (n_r >= 0) but must agree in dtype and trailing shape.
        Exchanged as tensors (never pickled), on the GPU under nccl. Outside ``torchrun`` the
        array itself is returned.
        """
        if not self.active:
            return rows
        rows = np.ascontiguousarray(rows)
        sizes = [torch.zeros(1, dtype=torch.int64, device=self.device) for _ in range(self.world_size)]
        tdist.all_gather(sizes, torch.tensor([len(rows)], dtype=torch.int64, device=self.device))
        counts = [int(s.item()) for s in sizes]
        padded = torch.zeros((max(counts),) + rows.shape[1:], dtype=torch.from_numpy(rows[:0]).dtype, device=self.device)
        padded[:len(rows)] = torch.from_numpy(rows).to(self.device)
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        tdist.all_gather(parts, padded)
        if not self.is_main:
            return None
        return np.concatenate([part[:n].cpu().numpy() for part, n in zip(parts, counts)])

    def close(self) -> None:
        """End a command: wait until every rank has finished it (the group lives on until exit)."""
        self.barrier()


def _destroy_group() -> None:
    if tdist.is_initialized():
        tdist.destroy_process_group()
