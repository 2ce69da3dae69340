"""The decoder as an ONNX model, for decoding z-vectors outside PyTorch (the report's explorer).

:func:`decoder_onnx` exports ``ConvAutoencoder.decoder`` with the TorchScript-based exporter
(``torch.onnx.export(..., dynamo=False)``): it needs the ``onnx`` package only (the optional
extra ``aegen[explorer]``), where the newer exporter also needs ``onnxscript``, and the graph
it writes (Gemm, Reshape, ConvTranspose, BatchNormalization, LeakyRelu, Sigmoid) runs in
every ONNX runtime. Input ``z`` (n, z_dim) float32, output ``image`` (n, 3, S, S) float32 in
[0, 1], the batch size free.

The weights are stored in float32 (``weights="float32"``) or, to halve the file that the report
carries, in float16 (``weights="float16"``, what the explorer uses): every weight matrix and
kernel (2 or more dimensions, nearly all the bytes) is rounded to float16 and a ``Cast`` node
turns it back into float32, while the per-channel vectors (biases, batch-norm statistics, whose
small variances float16 would hold with less relative precision) stay float32. The graph still
computes in float32: a runtime folds the casts into float32 constants when it loads the model,
so only the rounding of the weights differs from torch (2.2e-4 at most on outputs in [0, 1] for
the demo's decoder, under a tenth of a grey level; docs/RESULTS.md has the measured figures).

:func:`onnx_decode` runs an exported decoder with the ``onnx`` package's reference evaluator
(numpy, slow but exact), which is how the export is checked against torch without a runtime.
"""

from __future__ import annotations

import copy
import io
import warnings
from dataclasses import replace

import numpy as np
import torch
from torch.nn.utils import parametrize

from aegen import AegenError
from aegen.model import ConvAutoencoder

INPUT, OUTPUT = "z", "image"
# Opset 17 is the newest that the TorchScript exporter writes for every op here, and ONNX
# Runtime Web runs all of them.
OPSET = 17
WEIGHTS = ("float32", "float16")
# Initializers with at least this many dimensions are stored as float16 under weights="float16".
HALF_MIN_NDIM = 2
INSTALL_HINT = "pip install 'aegen[explorer]'"


def require_onnx():
    """The ``onnx`` module, or AegenError naming the extra that installs it."""
    try:
        import onnx
    except ImportError:
        raise AegenError(f"exporting the decoder needs the onnx package ({INSTALL_HINT})") from None
    return onnx


def cpu_decoder(model: ConvAutoencoder) -> torch.nn.Module:
    """A float32 copy of ``model``'s decoder on the CPU in evaluation mode (``model`` is left as it is).

    A spectrally normalised decoder (``ModelConfig.spectral_norm``) becomes plain layers holding
    its normalised weights: the same function, without the normalisation's ops in the graph.
    """
    if not model.cfg.spectral_norm:
        return copy.deepcopy(model.decoder).float().cpu().eval()
    was_training = model.decoder.training
    model.decoder.eval()  # reading a normalised weight in training mode would run a power iteration
    with torch.no_grad():
        state = {k: v for k, v in model.decoder.state_dict().items() if ".parametrizations." not in k}
        for name, module in model.decoder.named_modules():
            if parametrize.is_parametrized(module, "weight"):
                state[f"{name}.weight"] = module.weight.detach().clone()
    model.decoder.train(was_training)
    with torch.random.fork_rng(devices=[]):  # building the plain layers must not move the caller's random stream
        plain = ConvAutoencoder(replace(model.cfg, spectral_norm=False)).decoder
    plain.load_state_dict(state)
    return plain.float().cpu().eval()


def decoder_onnx(model: ConvAutoencoder, weights: str = "float32") -> bytes:
    """The serialized ONNX model of ``model``'s decoder (evaluation mode, on the CPU, computing in
    float32), its weights stored as ``weights`` ("float32" or "float16", see the module)."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    require_onnx()
    decoder = cpu_decoder(model)
    example = torch.zeros(1, model.cfg.z_dim)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is chosen on purpose (see the module); its deprecation notice is noise here.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(decoder, (example,), buffer, dynamo=False, opset_version=OPSET,
                          input_names=[INPUT], output_names=[OUTPUT],
                          dynamic_axes={INPUT: {0: "n"}, OUTPUT: {0: "n"}})
    return half_weights(buffer.getvalue()) if weights == "float16" else buffer.getvalue()


def half_weights(model_bytes: bytes) -> bytes:
    """``model_bytes`` with each float32 initializer of HALF_MIN_NDIM or more dimensions stored as
    float16 and cast back to float32 by a ``Cast`` node of the same output name (the graph's
    arithmetic is unchanged)."""
    onnx = require_onnx()
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    taken = {init.name for init in graph.initializer} | {v.name for v in graph.input} | \
        {out for node in graph.node for out in node.output}
    casts = []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT or len(init.dims) < HALF_MIN_NDIM:
            continue
        name, half = init.name, f"{init.name}_float16"
        while half in taken:
            half += "_"
        taken.add(half)
        init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), half))
        casts.append(helper.make_node("Cast", [half], [name], to=TensorProto.FLOAT, name=f"cast_{half}"))
    nodes = casts + list(graph.node)  # the casts first: the graph's nodes stay in topological order
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def onnx_decode(model_bytes: bytes, Z: np.ndarray) -> np.ndarray:
    """Run an exported decoder on ``Z`` (n, z_dim) with the ONNX reference evaluator: (n, 3, S, S) float32."""
    require_onnx()
    from onnx.reference import ReferenceEvaluator

    (out,) = ReferenceEvaluator(model_bytes).run(None, {INPUT: np.asarray(Z, dtype=np.float32)})
    return out


def export_difference(model: ConvAutoencoder, model_bytes: bytes, n: int = 16, seed: int = 0) -> float:
    """Largest absolute difference between torch's decoder and its export on ``n`` standard-normal
    z-vectors drawn with ``seed`` (outputs in [0, 1])."""
    Z = np.random.default_rng(seed).standard_normal((n, model.cfg.z_dim)).astype(np.float32)
    with torch.no_grad():
        expected = cpu_decoder(model)(torch.from_numpy(Z)).numpy()
    return float(np.max(np.abs(onnx_decode(model_bytes, Z) - expected)))
