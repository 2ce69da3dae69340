"""Checkpoints in safetensors: model weights, optimizer moments and the epoch, never pickle.

The optimizer's tensors are flattened into the same file under ``optim/``; its scalar
hyper-parameters travel as JSON in the safetensors metadata. A run trained with
``--adversarial`` also keeps its discriminator and that one's optimizer, under ``critic/``
(readers of the autoencoder never look there). A truncated or foreign file is a one-line
:class:`~aegen.AegenError`.
"""

from __future__ import annotations

import json
import os

import torch

from aegen import AegenError
from aegen.io import load_tensors, save_tensors

# Where a run folder keeps its checkpoint (relative to the run), written after every epoch.
CHECKPOINT = "checkpoints/last.safetensors"


# Where a checkpoint keeps the discriminator of an adversarially trained run, and its optimizer.
CRITIC_PREFIX = "critic/"


def _flatten(prefix: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None,
             tensors: dict, meta: dict) -> None:
    """Add ``model``'s weights and ``optimizer``'s state under ``prefix`` to ``tensors`` / ``meta``."""
    tensors.update({f"{prefix}model/{k}": v for k, v in model.state_dict().items()})
    if optimizer is not None:
        state = optimizer.state_dict()
        for pid, slots in state["state"].items():
            for key, value in slots.items():
                value = value if torch.is_tensor(value) else torch.tensor(value)
                tensors[f"{prefix}optim/{pid}/{key}"] = value
        meta[f"{prefix}param_groups"] = json.dumps(state["param_groups"])


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None,
                    epoch: int, extra: dict | None = None, critic=None) -> None:
    """Write weights, optimizer state and epoch; ``critic`` (an :class:`aegen.adversarial.Critic`) too if given."""
    tensors: dict[str, torch.Tensor] = {}
    meta = {"epoch": str(epoch), "extra": json.dumps(extra or {})}
    _flatten("", model, optimizer, tensors, meta)
    if critic is not None:
        _flatten(CRITIC_PREFIX, critic.discriminator, critic.optimizer, tensors, meta)
    save_tensors(path, tensors, meta)


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and metadata of a checkpoint, checked to be a readable safetensors file."""
    tensors, meta = load_tensors(path, "checkpoint")
    if "epoch" not in meta:
        raise AegenError(f"{path} is not an aegen checkpoint (no epoch in its metadata)")
    return tensors, meta


def load_checkpoint(path: str | os.PathLike, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None = None, critic=None) -> int:
    """Load weights (and optimizer state, and ``critic``'s) into the given objects; returns the saved epoch."""
    tensors, meta = read_checkpoint(path)
    _restore("", tensors, meta, model, optimizer, path)
    if critic is not None:
        if f"{CRITIC_PREFIX}param_groups" not in meta:
            raise AegenError(f"checkpoint {path} holds no discriminator: was the run trained with --adversarial?")
        _restore(CRITIC_PREFIX, tensors, meta, critic.discriminator, critic.optimizer, path)
    return int(meta["epoch"])


def _restore(prefix: str, tensors: dict, meta: dict, model: torch.nn.Module,
             optimizer: torch.optim.Optimizer | None, path) -> None:
    """Load the weights (and optimizer state) stored under ``prefix`` into ``model`` (and ``optimizer``)."""
    weights = {k[len(prefix + "model/"):]: v for k, v in tensors.items() if k.startswith(prefix + "model/")}
    expected = model.state_dict()
    mismatched = [k for k in expected if k not in weights or weights[k].shape != expected[k].shape]
    if mismatched or len(weights) != len(expected):
        k = mismatched[0] if mismatched else sorted(set(weights) - set(expected))[0]
        got = tuple(weights[k].shape) if k in weights else "missing"
        want = tuple(expected[k].shape) if k in expected else "absent"
        raise AegenError(f"checkpoint {path} does not fit this model ({k}: checkpoint {got}, model {want}); "
                         "was it trained with another z_dim, image size or architecture?")
    model.load_state_dict(weights)
    if optimizer is not None and f"{prefix}param_groups" in meta:
        state: dict[int, dict] = {}
        for key, value in tensors.items():
            if key.startswith(prefix + "optim/"):
                pid, slot = key[len(prefix + "optim/"):].split("/", 1)
                state.setdefault(int(pid), {})[slot] = value
        optimizer.load_state_dict({"state": state, "param_groups": json.loads(meta[f"{prefix}param_groups"])})
