"""The subsets of a run's images that an evaluation uses, chosen by seeds derived from ``--seed``.

The reference is a seeded subset of N held-out images; the training reference (for the 'real'
row) N training images; the probe N other held-out images, which are the reconstruction row's
originals and set the copying tests' per-item threshold; the copying tests' held-out side is
every held-out image outside the probe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aegen import AegenError
from aegen.latent.checks import subsample_indices


def subset_indices(n_total: int, n: int, seed: int) -> np.ndarray:
    """Sorted indices of min(n, n_total) rows drawn without replacement by ``seed``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return subsample_indices(n_total, n, np.random.default_rng(seed))


@dataclass(frozen=True)
class Subsets:
    """Indices into the held-out and training splits (see the module's docstring)."""

    heldout: np.ndarray
    train: np.ndarray
    probe: np.ndarray
    reconstruction: np.ndarray
    copy_heldout: np.ndarray


def choose_subsets(n: int, n_train: int, n_heldout: int, seeds: dict, reconstruction: bool = True) -> Subsets:
    """Disjoint held-out subsets (reference, probe) and the training reference; AegenError when the
    splits are too small for N. seeds: :func:`aegen.evaluate.protocol.seeds.evaluation_seeds`."""
    needed = n * (2 if reconstruction else 1)
    if n_heldout < needed:
        what = "disjoint reference and reconstruction subsets of N" if reconstruction else "a reference subset of N"
        raise AegenError(f"N = {n} needs {needed} held-out images for {what}; this run holds out {n_heldout}: "
                         f"use --n {n_heldout // (2 if reconstruction else 1)} or less, or retrain with "
                         f"aegen train --heldout-size {needed}")
    if n_train < n:
        raise AegenError(f"N = {n} exceeds the {n_train} training images of this run")
    heldout = subset_indices(n_heldout, n, seeds["heldout-reference"])
    rest = np.setdiff1d(np.arange(n_heldout), heldout)
    # The probe: chosen also when the reconstruction row is not scored, so the copying tests'
    # sides do not depend on it; every held-out item outside the reference where there is no
    # room for N of them.
    probe = rest[subset_indices(len(rest), n, seeds["reconstruction"])] if len(rest) >= n else rest
    return Subsets(heldout=heldout, train=subset_indices(n_train, n, seeds["train-reference"]), probe=probe,
                   reconstruction=probe if reconstruction else np.zeros(0, dtype=np.int64),
                   copy_heldout=np.setdiff1d(np.arange(n_heldout), probe))
