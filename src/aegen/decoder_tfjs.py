"""The decoder as a TensorFlow.js Layers model, for decoding z-vectors in a browser (the report's explorer).

:func:`decoder_tfjs` writes ``ConvAutoencoder.decoder`` (evaluation mode, on the CPU) in the
format that ``tf.loadLayersModel`` reads: a Keras-style topology (JSON), a weight manifest and
the weights' bytes, the parts of a TF.js ``model.json`` and its weight file (the page passes
them to ``tf.io.fromMemory``). The network travels as data; the page holds no code of its own
for it. Input (n, z_dim) float32, output (n, S, S, 3) float32 in [0, 1] (channels last, as
TF.js computes), the batch size free.

Layer by layer (PyTorch computes channels first, TF.js channels last):

- ``Linear`` -> ``Dense`` (kernel = weight transposed), its output columns permuted so that the
  ``Reshape`` to (F, F, C) holds what PyTorch's ``Unflatten`` to (C, F, F) holds;
- ``ConvTranspose2d`` (weight [in, out, kh, kw]) -> ``Conv2DTranspose`` (kernel [kh, kw, out, in]);
  a resize-convolution stage (``Upsample`` nearest x2, ``ZeroPad2d``, ``Conv2d`` [out, in, kh, kw])
  -> ``UpSampling2D`` and a 'same' ``Conv2D`` (kernel [kh, kw, in, out]); with eval-mode
  ``BatchNorm2d`` after either, the batch norm is folded into the kernel and the bias
  (scale = gamma / sqrt(running_var + eps)). PyTorch's ``padding`` p and ``output_padding`` q crop
  the full transposed output by p at the top/left and p - q at the bottom/right; TF's 'same'
  crops (k - s) // 2 and the rest. Where the two agree (the model's even kernel sizes) the layer
  is 'same'; otherwise (odd kernels) it is 'valid' followed by a ``Cropping2D`` of PyTorch's crop;
- activations: LeakyReLU(0.2) -> ``LeakyReLU``; ReLU, ELU (alpha 1), SiLU, Sigmoid ->
  ``Activation`` 'relu', 'elu', 'swish', 'sigmoid';
- a spectrally normalised decoder is exported with its normalised weights (:func:`cpu_decoder`).

Weights: float32, or float16 (``weights="float16"``, what the explorer uses): every kernel
(2 or more dimensions, nearly all the bytes) is stored as float16 under the manifest's
``quantization: {dtype: "float16"}``, which TF.js turns back into float32 when it loads the
model; biases stay float32. A kernel with a value beyond float16's range stays float32.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from aegen import AegenError
from aegen.model import ConvAutoencoder

WEIGHTS = ("float32", "float16")
# Weights with at least this many dimensions are stored as float16 under weights="float16".
HALF_MIN_NDIM = 2
FORMAT = "layers-model"
# The TF.js layer class and activation name for each PyTorch activation of aegen.model.ACTIVATIONS.
ACTIVATION_NAMES = {nn.ReLU: "relu", nn.ELU: "elu", nn.SiLU: "swish", nn.Sigmoid: "sigmoid"}
# Initial values of the layers TF.js builds before it loads the weights (zeros: no random draws).
ZEROS = {"class_name": "Zeros", "config": {}}


@dataclass(frozen=True)
class TfjsModel:
    """``topology``: the Keras-style model JSON; ``weight_specs``: the weight manifest (name, shape,
    dtype, quantization), in the order of ``weight_data``'s little-endian bytes."""

    topology: dict
    weight_specs: list[dict]
    weight_data: bytes

    def artifacts(self) -> dict:
        """The JSON part of TF.js's ``ModelArtifacts`` (the page adds ``weightData``)."""
        return {"format": FORMAT, "generatedBy": "aegen", "modelTopology": self.topology,
                "weightSpecs": self.weight_specs}


def cpu_decoder(model: ConvAutoencoder) -> torch.nn.Module:
    """A float32 copy of ``model``'s decoder on the CPU in evaluation mode (``model`` is left as it is).

    A spectrally normalised decoder (``ModelConfig.spectral_norm``) becomes plain layers holding
    its normalised weights: the same function, without the normalisation.
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


def transposed_padding(conv: nn.ConvTranspose2d) -> tuple[str, tuple[int, int]]:
    """TF's padding for ``conv`` and the (top/left, bottom/right) crop that must follow it ((0, 0): none).

    AegenError for a layer TF.js's Conv2DTranspose cannot express (non-square, dilated, grouped).
    """
    (k, k2), (s, s2), (p, p2), (q, q2) = conv.kernel_size, conv.stride, conv.padding, conv.output_padding
    if (k, s, p, q) != (k2, s2, p2, q2) or conv.dilation != (1, 1) or conv.groups != 1 or p - q < 0:
        raise AegenError(f"the decoder layer {conv} has no TF.js equivalent here")
    crop = (p, p - q)  # what PyTorch keeps of the full transposed output, (H - 1) * s + k rows
    same = ((k - s) // 2, k - s - (k - s) // 2) if k >= s else None
    if crop == same:
        return "same", (0, 0)
    return "valid", crop


def conv_layer(class_name: str, name: str, filters: int, kernel_size, strides, padding: str) -> dict:
    """A TF.js convolution layer (``Conv2D`` or ``Conv2DTranspose``), channels last, linear, with a bias."""
    return {"class_name": class_name, "config": {
        "name": name, "filters": int(filters), "kernel_size": list(kernel_size), "strides": list(strides),
        "padding": padding, "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "linear",
        "use_bias": True, "kernel_initializer": ZEROS, "bias_initializer": ZEROS}}


def resize_convolution(stage: nn.Module) -> nn.Conv2d | None:
    """The Conv2d of a resize-convolution stage (``upsampling="nearest"``), or None for any other layer.

    The stage must be what aegen.model builds: nearest x2 upsampling, zero padding (k - 1) // 2
    before and the rest after (TF's stride-1 'same'), a square stride-1 Conv2d; AegenError otherwise.
    """
    if not (isinstance(stage, nn.Sequential) and len(stage) and isinstance(stage[0], nn.Upsample)):
        return None
    parts = list(stage)
    up, pad, conv = (parts + [None, None])[:3]
    k = conv.kernel_size[0] if isinstance(conv, nn.Conv2d) else 0
    before = (k - 1) // 2
    if (len(parts) != 3 or up.mode != "nearest" or up.scale_factor not in (2, 2.0, (2.0, 2.0))
            or not isinstance(pad, nn.ZeroPad2d) or tuple(pad.padding) != (before, k - 1 - before) * 2
            or conv.kernel_size != (k, k) or conv.stride != (1, 1) or conv.padding != (0, 0)
            or conv.dilation != (1, 1) or conv.groups != 1):
        raise AegenError(f"the decoder stage {stage} has no TF.js equivalent here")
    return conv


def decoder_tfjs(model: ConvAutoencoder, weights: str = "float32") -> TfjsModel:
    """``model``'s decoder as a TF.js Layers model (see the module), its weights stored as ``weights``."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    modules = list(cpu_decoder(model))
    layers: list[dict] = []
    specs: list[dict] = []
    blobs: list[bytes] = []

    def add_weight(name: str, value: np.ndarray) -> None:
        value = np.ascontiguousarray(value, dtype=np.float32)
        spec = {"name": name, "shape": list(value.shape), "dtype": "float32"}
        half = value.astype("<f2") if weights == "float16" and value.ndim >= HALF_MIN_NDIM else None
        if half is not None and np.all(np.isfinite(half)):
            spec["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            blobs.append(half.tobytes())
        else:
            blobs.append(value.astype("<f4").tobytes())
        specs.append(spec)

    if len(modules) < 2 or not isinstance(modules[0], nn.Linear) or not isinstance(modules[1], nn.Unflatten):
        raise AegenError("the decoder does not start with Linear and Unflatten, as aegen.model builds it")
    linear, unflatten = modules[0], modules[1]
    c, h, w = (int(n) for n in unflatten.unflattened_size)
    # Column (y, x, channel) of the Dense output is PyTorch's row channel * h * w + y * w + x.
    order = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).ravel()
    weight, bias = linear.weight.detach().numpy(), linear.bias.detach().numpy()
    layers.append({"class_name": "Dense", "config": {
        "name": "linear", "units": int(weight.shape[0]), "activation": "linear", "use_bias": True,
        "kernel_initializer": ZEROS, "bias_initializer": ZEROS, "dtype": "float32",
        "batch_input_shape": [None, int(weight.shape[1])]}})
    add_weight("linear/kernel", weight[order].T)
    add_weight("linear/bias", bias[order])
    layers.append({"class_name": "Reshape", "config": {"name": "reshape", "target_shape": [h, w, c]}})

    rest, stage = modules[2:], 0
    while rest:
        conv, rest = rest[0], rest[1:]
        resize = resize_convolution(conv)
        if resize is not None:
            conv = resize
        elif not isinstance(conv, nn.ConvTranspose2d):
            raise AegenError(f"unexpected decoder layer {conv} (a ConvTranspose2d or an upsampling stage was due)")
        kernel = conv.weight.detach().numpy().astype(np.float64)  # ConvTranspose2d: [in, out, kh, kw]
        if resize is not None:
            kernel = kernel.transpose(1, 0, 2, 3)  # Conv2d: [out, in, kh, kw], reordered to [in, out, kh, kw]
        shift = conv.bias.detach().numpy().astype(np.float64) if conv.bias is not None else np.zeros(kernel.shape[1])
        if rest and isinstance(rest[0], nn.BatchNorm2d):
            norm, rest = rest[0], rest[1:]
            scale = norm.weight.detach().double().numpy() / np.sqrt(norm.running_var.detach().double().numpy() + norm.eps)
            kernel = kernel * scale[None, :, None, None]
            shift = (shift - norm.running_mean.detach().double().numpy()) * scale + norm.bias.detach().double().numpy()
        if resize is not None:
            name = f"conv{stage}"
            layers.append({"class_name": "UpSampling2D", "config": {
                "name": f"upsample{stage}", "size": [2, 2], "interpolation": "nearest", "data_format": "channels_last"}})
            layers.append(conv_layer("Conv2D", name, kernel.shape[1], conv.kernel_size, (1, 1), "same"))
            add_weight(f"{name}/kernel", kernel.transpose(2, 3, 0, 1))  # Conv2D: [kh, kw, in, out]
        else:
            padding, crop = transposed_padding(conv)
            name = f"deconv{stage}"
            layers.append(conv_layer("Conv2DTranspose", name, kernel.shape[1], conv.kernel_size, conv.stride, padding))
            add_weight(f"{name}/kernel", kernel.transpose(2, 3, 1, 0))  # Conv2DTranspose: [kh, kw, out, in]
            if crop != (0, 0):
                layers.append({"class_name": "Cropping2D", "config": {"name": f"crop{stage}", "cropping": [list(crop), list(crop)]}})
        add_weight(f"{name}/bias", shift)
        if not rest:
            raise AegenError(f"the decoder ends without an activation after {conv}")
        act, rest = rest[0], rest[1:]
        if isinstance(act, nn.LeakyReLU):
            layers.append({"class_name": "LeakyReLU", "config": {"name": f"act{stage}", "alpha": float(act.negative_slope)}})
        elif type(act) in ACTIVATION_NAMES and (not isinstance(act, nn.ELU) or act.alpha == 1.0):
            layers.append({"class_name": "Activation", "config": {"name": f"act{stage}", "activation": ACTIVATION_NAMES[type(act)]}})
        else:
            raise AegenError(f"the decoder's activation {act} has no TF.js equivalent here")
        stage += 1
    topology = {"class_name": "Sequential", "config": {"name": "decoder", "layers": layers},
                "backend": "tensor_flow.js"}
    return TfjsModel(topology, specs, b"".join(blobs))
