"""Checkpoints in safetensors: model weights, optimizer moments and the epoch, never pickle.

The optimizer's tensors are flattened into the same file under ``optim/``; its scalar
hyper-parameters travel as JSON in the safetensors metadata. A truncated or foreign file is
a one-line :class:`~aegen.AegenError`.
"""

from __future__ import annotations

import json
import os

import torch

from aegen import AegenError
from aegen.io import load_tensors, save_tensors

# Where a run folder keeps its checkpoint (relative to the run), written after every epoch.
CHECKPOINT = "checkpoints/last.safetensors"


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None,
                    epoch: int, extra: dict | None = None) -> None:
    tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
    meta = {"epoch": str(epoch), "extra": json.dumps(extra or {})}
    if optimizer is not None:
        state = optimizer.state_dict()
        for pid, slots in state["state"].items():
            for key, value in slots.items():
                value = value if torch.is_tensor(value) else torch.tensor(value)
                tensors[f"optim/{pid}/{key}"] = value
        meta["param_groups"] = json.dumps(state["param_groups"])
    save_tensors(path, tensors, meta)


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and metadata of a checkpoint, checked to be a readable safetensors file."""
    tensors, meta = load_tensors(path, "checkpoint")
    if "epoch" not in meta:
        raise AegenError(f"{path} is not an aegen checkpoint (no epoch in its metadata)")
    return tensors, meta


def load_checkpoint(path: str | os.PathLike, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None = None) -> int:
    """Load weights (and optimizer state) into the given objects; returns the saved epoch."""
    tensors, meta = read_checkpoint(path)
    weights = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
    expected = model.state_dict()
    mismatched = [k for k in expected if k not in weights or weights[k].shape != expected[k].shape]
    if mismatched or len(weights) != len(expected):
        k = mismatched[0] if mismatched else sorted(set(weights) - set(expected))[0]
        got = tuple(weights[k].shape) if k in weights else "missing"
        want = tuple(expected[k].shape) if k in expected else "absent"
        raise AegenError(f"checkpoint {path} does not fit this model ({k}: checkpoint {got}, model {want}); "
                         "was it trained with another z_dim, image size or architecture?")
    model.load_state_dict(weights)
    if optimizer is not None and "param_groups" in meta:
        state: dict[int, dict] = {}
        for key, value in tensors.items():
            if key.startswith("optim/"):
                _, pid, slot = key.split("/", 2)
                state.setdefault(int(pid), {})[slot] = value
        optimizer.load_state_dict({"state": state, "param_groups": json.loads(meta["param_groups"])})
    return int(meta["epoch"])
