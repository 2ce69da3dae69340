"""The calibration of bfloat16 Inception features against float32: one factor per machine and runtime.

Rounding the network's BatchNorm-folded weights to bfloat16 shrinks its pool features by about
0.5 % (a bias, not noise: see :mod:`aegen.evaluate.feature_backends` and docs/RESULTS.md R5).
:func:`bf16_scale` measures sum(float32) / sum(bfloat16) over :func:`calibration_images` and
caches it as JSON beside the converted models; the extractor multiplies every bfloat16 feature
by it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from aegen import AegenError
from aegen.data.dataset import default_cache_dir
from aegen.evaluate.feature_backends import FeaturesUnavailable
from aegen.io import write_json

# Images (64 px) behind the calibration factor; 128 pin it to about 4e-4 (measured).
CALIBRATION_IMAGES = 128
CALIBRATION_VERSION = 1


def calibration_images(n: int = CALIBRATION_IMAGES, size: int = 64, seed: int = 0) -> np.ndarray:
    """(n, size, size, 3) uint8 fixed procedural images: colour gradients of random slopes plus noise.

    Deterministic and data-free, so the calibration needs no download and no data set; on
    them bfloat16 features shrink as on real faces (0.9955 against 0.9953, measured).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] * (64.0 / size)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        slopes = rng.uniform(0.5, 4.0, 2), rng.uniform(0.5, 2.0)
        ramp = np.stack([xx * slopes[0][0], yy * slopes[0][1], (xx + yy) * slopes[1]], axis=-1)
        images[i] = np.clip(ramp + rng.normal(0.0, 20.0, ramp.shape), 0, 255).astype(np.uint8)
    return images


def machine_signature() -> str:
    """A short hash of the CPU's model name and flags: bfloat16 arithmetic may differ between CPUs."""
    import hashlib
    import platform

    text = platform.machine() + platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            lines = [line for line in f if line.startswith(("model name", "flags"))]
        text += "".join(sorted(set(lines)))
    except OSError:
        pass
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def bf16_scale(name: str, featurise_bf16: Callable[[np.ndarray], np.ndarray],
               featurise_exact: Callable[[np.ndarray], np.ndarray], cache_dir=None) -> dict:
    """The calibration of a bfloat16 runtime: ``{"scale", "images", "machine", ...}``.

    scale = sum of float32 features / sum of bfloat16 features over :func:`calibration_images`;
    cached as JSON under ``<cache>/models/calibration/`` by ``name`` (the runtime's id) and
    :func:`machine_signature`, and recomputed when the cached file is missing or unreadable.
    """
    machine = machine_signature()
    path = Path(cache_dir or default_cache_dir()) / "models" / "calibration" / f"{name}-{machine}.json"
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if cached.get("version") == CALIBRATION_VERSION and 0.9 < float(cached["scale"]) < 1.1:
            return cached
    except (OSError, ValueError, KeyError, TypeError):
        pass
    images = calibration_images()
    exact = np.asarray(featurise_exact(images), dtype=np.float64)
    low = np.asarray(featurise_bf16(images), dtype=np.float64)
    scale = float(exact.sum() / low.sum())
    if not 0.9 < scale < 1.1:
        raise FeaturesUnavailable(f"bfloat16 features of {name} are {1 - 1 / scale:+.1%} off the float32 ones; "
                                  f"use --features-mode exact")
    record = {"version": CALIBRATION_VERSION, "scale": scale, "images": len(images), "machine": machine,
              "source": "calibration_images(): procedural gradients, seed 0",
              "rel_error_after": float(np.linalg.norm(low * scale - exact) / np.linalg.norm(exact))}
    try:
        write_json(path, record)
    except (OSError, AegenError):
        pass  # a read-only cache costs a recalibration next time, nothing else
    return record
