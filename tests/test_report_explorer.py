"""The report's latent explorer without a browser: the decoder's TF.js export, the data the page gets,
and the report without the explorer's parts. tests/test_report_browser.py runs them in Chromium and
compares the exported decoder with torch there."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from aegen.cli import main
from conftest import TINY_HELDOUT
from test_report import full_run, read_page  # noqa: F401  (the shared run fixture)

# The other sections: tests of the explorer write a page with it alone (the full report's own tests
# are in test_report.py), which skips drawing and storing every other figure.
OTHER_SECTIONS = ("run", "latent", "samples", "evaluation", "attributes", "protocol")
SETTINGS_SCRIPT = re.compile(r'<script type="application/json" id="aegen-explorer-settings">(.*?)</script>', re.S)


def explorer_settings(index: Path) -> dict | None:
    """The explorer's settings JSON in a written report, or None when the page has no explorer."""
    found = SETTINGS_SCRIPT.search(index.read_text(encoding="utf-8"))
    return json.loads(found.group(1)) if found else None


def small_model(**options):
    import torch

    from aegen.model import ConvAutoencoder, ModelConfig

    torch.manual_seed(0)
    model = ConvAutoencoder(ModelConfig(**{"image_size": 32, "z_dim": 16, "channels": (8, 8, 16, 16), **options}))
    with torch.no_grad():  # batch-norm statistics away from their start (0 and 1), as after training
        for module in model.decoder.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.3, 0.3)
    return model.eval()


def weights_of(exported) -> dict[str, np.ndarray]:
    """The exported weights by name, as float32 (float16 ones widened), read back from the manifest."""
    out, offset = {}, 0
    for spec in exported.weight_specs:
        half = spec.get("quantization", {}).get("dtype") == "float16"
        dtype, count = ("<f2" if half else "<f4"), int(np.prod(spec["shape"]))
        out[spec["name"]] = np.frombuffer(exported.weight_data, dtype, count, offset).astype(np.float32).reshape(spec["shape"])
        offset += count * np.dtype(dtype).itemsize
    assert offset == len(exported.weight_data)
    return out


def test_the_decoder_exports_as_a_keras_style_layers_model():
    from aegen.decoder_tfjs import decoder_tfjs

    model = small_model(batch_norm=False)
    exported = decoder_tfjs(model)
    layers = exported.topology["config"]["layers"]
    assert [layer["class_name"] for layer in layers] == (["Dense", "Reshape"] + ["Conv2DTranspose", "LeakyReLU"] * 3
                                                         + ["Conv2DTranspose", "Activation"])
    assert layers[0]["config"]["batch_input_shape"] == [None, 16] and layers[1]["config"]["target_shape"] == [2, 2, 16]
    assert layers[-1]["config"]["activation"] == "sigmoid" and layers[3]["config"]["alpha"] == pytest.approx(0.2)
    assert {layer["config"]["padding"] for layer in layers if layer["class_name"] == "Conv2DTranspose"} == {"same"}
    assert all("quantization" not in spec for spec in exported.weight_specs)  # float32 by default
    weights = weights_of(exported)
    linear, conv = model.decoder[0], model.decoder[2]
    # Dense column (y, x, c) is torch's output row c * 4 + y * 2 + x: the reshape to channels last
    # then holds what torch's unflatten to channels first holds.
    for y, x, c in [(0, 0, 0), (1, 0, 3), (0, 1, 15), (1, 1, 7)]:
        column = (y * 2 + x) * 16 + c
        np.testing.assert_array_equal(weights["linear/kernel"][:, column], linear.weight[c * 4 + y * 2 + x].detach().numpy())
        assert weights["linear/bias"][column] == linear.bias[c * 4 + y * 2 + x].item()
    # ConvTranspose2d [in, out, kh, kw] -> Conv2DTranspose [kh, kw, out, in]
    np.testing.assert_array_equal(weights["deconv0/kernel"], conv.weight.detach().numpy().transpose(2, 3, 1, 0))
    assert weights["deconv0/kernel"].shape == (4, 4, 16, 16) and weights["deconv1/kernel"].shape == (4, 4, 8, 16)


def test_batch_norm_is_folded_into_the_transposed_convolution():
    import torch

    from aegen.decoder_tfjs import decoder_tfjs

    model = small_model()
    exported = decoder_tfjs(model)
    assert "BatchNormalization" not in {layer["class_name"] for layer in exported.topology["config"]["layers"]}
    conv, norm = model.decoder[2], model.decoder[3]
    weights = weights_of(exported)
    x = torch.randn(2, 16, 2, 2)
    with torch.no_grad():
        expected = norm(conv(x))
        folded = torch.nn.functional.conv_transpose2d(
            x, torch.from_numpy(weights["deconv0/kernel"].transpose(3, 2, 0, 1).copy()),
            torch.from_numpy(weights["deconv0/bias"]), stride=2, padding=1)
    assert (expected - folded).abs().max() < 1e-5
    assert (expected - conv(x)).abs().max() > 0.1  # the statistics matter


def test_a_resize_convolution_decoder_exports_as_upsampling_and_same_convolutions():
    import torch

    from aegen import AegenError
    from aegen.decoder_tfjs import decoder_tfjs

    model = small_model(upsampling="nearest")
    layers = decoder_tfjs(model).topology["config"]["layers"]
    assert [layer["class_name"] for layer in layers] == (["Dense", "Reshape"] + ["UpSampling2D", "Conv2D", "LeakyReLU"] * 3
                                                         + ["UpSampling2D", "Conv2D", "Activation"])
    assert {layer["config"]["padding"] for layer in layers if layer["class_name"] == "Conv2D"} == {"same"}
    # Conv2d [out, in, kh, kw] -> Conv2D [kh, kw, in, out], the batch norm folded in.
    stage, norm = model.decoder[2], model.decoder[3]
    weights = weights_of(decoder_tfjs(model))
    x = torch.randn(2, 16, 4, 4)
    with torch.no_grad():
        expected = norm(stage[2](stage[1](x)))
        folded = torch.nn.functional.conv2d(stage[1](x), torch.from_numpy(weights["conv0/kernel"].transpose(3, 2, 0, 1).copy()),
                                            torch.from_numpy(weights["conv0/bias"]))
    assert (expected - folded).abs().max() < 1e-5
    model.decoder[2][0] = torch.nn.Upsample(scale_factor=2, mode="bilinear")
    with pytest.raises(AegenError, match="no TF.js equivalent"):
        decoder_tfjs(model)


@pytest.mark.parametrize("k, padding, crop", [(2, "same", None), (3, "valid", [[1, 0], [1, 0]]), (4, "same", None),
                                              (5, "valid", [[2, 1], [2, 1]]), (6, "same", None),
                                              (7, "valid", [[3, 2], [3, 2]])])
def test_odd_kernels_export_as_valid_padding_and_the_crop_torch_makes(k, padding, crop):
    """TF's 'same' crops (k - 2) // 2 at the top/left; torch crops its padding, (k - 1) // 2: equal
    for even k only (tests/test_report_browser.py checks every case numerically)."""
    from aegen.decoder_tfjs import decoder_tfjs

    layers = decoder_tfjs(small_model(kernel_size=k)).topology["config"]["layers"]
    convs = [layer["config"] for layer in layers if layer["class_name"] == "Conv2DTranspose"]
    crops = [layer["config"]["cropping"] for layer in layers if layer["class_name"] == "Cropping2D"]
    assert {c["padding"] for c in convs} == {padding} and all(c["kernel_size"] == [k, k] for c in convs)
    assert crops == ([] if crop is None else [crop] * 4)


def test_float16_kernels_halve_the_weights_and_biases_stay_float32():
    from aegen.decoder_tfjs import decoder_tfjs

    model = small_model()
    full, half = decoder_tfjs(model), decoder_tfjs(model, weights="float16")
    kinds = {spec["name"]: spec.get("quantization", {}).get("dtype") for spec in half.weight_specs}
    assert {name for name, kind in kinds.items() if kind == "float16"} == \
        {name for name in kinds if name.endswith("/kernel")}  # kernels float16, biases float32
    assert all(spec["dtype"] == "float32" for spec in half.weight_specs)  # TF.js widens them on loading
    assert len(half.weight_data) < 0.55 * len(full.weight_data)
    wide, narrow = weights_of(full), weights_of(half)
    for name, value in wide.items():
        expected = value.astype(np.float16).astype(np.float32) if kinds[name] else value
        np.testing.assert_array_equal(narrow[name], expected)
    assert max(np.abs(narrow[n] - wide[n]).max() for n in wide) > 0  # rounded
    with pytest.raises(ValueError, match="weights must be one of"):
        decoder_tfjs(model, weights="int8")


def test_an_activation_without_a_tfjs_equivalent_is_refused():
    import torch

    from aegen import AegenError
    from aegen.decoder_tfjs import decoder_tfjs

    model = small_model()
    model.decoder[-1] = torch.nn.Tanh()
    with pytest.raises(AegenError, match="no TF.js equivalent"):
        decoder_tfjs(model)


def test_the_explorer_of_a_demo_size_decoder_adds_under_four_mb():
    """The page's bytes for the explorer of the demo's model (32 px, z 256, the default widths) with
    a 256-d run's arrays: 8.2 MB with ONNX Runtime Web and float16 weights, 3.6 MB with TensorFlow.js
    (2026-12-07)."""
    import torch

    from aegen.decoder_tfjs import decoder_tfjs
    from aegen.demo import DemoConfig
    from aegen.model import ConvAutoencoder, ModelConfig
    from aegen.report.blocks import Explorer
    from aegen.report.browser_runtime import load_browser_runtime
    from aegen.report.explorer import DECODER_WEIGHTS, MAX_ATTRIBUTES, POOL_SIZE, ExplorerPayload
    from aegen.report.explorer_html import explorer_html

    torch.manual_seed(0)
    model = ConvAutoencoder(ModelConfig(image_size=DemoConfig.image_size)).eval()
    d = model.cfg.z_dim
    rng = np.random.default_rng(0)
    shapes = {"mean": (d,), "axes": (d, d), "sigmas": (d,), "ellipse_mean": (d,), "ellipse_axes": (d, d),
              "ellipse_limits": (d,), "attribute_directions": (MAX_ATTRIBUTES, d),
              **{f"start_{key}": (POOL_SIZE, d) for key in ("heldout", "gaussian", "gmm")}}
    arrays = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}
    payload = ExplorerPayload({"image_size": model.cfg.image_size, "z_dim": d}, arrays,
                              decoder_tfjs(model, weights=DECODER_WEIGHTS))
    size = len(explorer_html(Explorer(payload, load_browser_runtime())).encode())
    assert size < 4.0e6, size


def test_a_96px_run_gets_an_explorer(run_96px, tmp_path):
    from aegen.report import write_report

    index = write_report(run_96px, out_dir=tmp_path / "report", leave_out=OTHER_SECTIONS)
    settings = explorer_settings(index)
    assert settings["image_size"] == 96 and settings["z_dim"] == 8
    assert 'width="96" height="96"' in index.read_text(encoding="utf-8")


def test_the_explorer_data_follows_the_run(full_run, tmp_path):
    from aegen.latent.pca import LatentPCA
    from aegen.report import write_report
    from aegen.report.explorer import N_PCA_SLIDERS, POOL_SIZE, explorer_payload
    from aegen.run import Run

    run = Run.open(full_run)
    payload = explorer_payload(run)
    pca = LatentPCA().fit(run.zpoints("train"))
    np.testing.assert_allclose(payload.arrays["mean"], pca.mean_)
    np.testing.assert_allclose(payload.arrays["sigmas"] ** 2, pca.explained_variance_[:pca.rank_])
    settings = payload.settings
    assert settings["pca"]["n_sliders"] == min(N_PCA_SLIDERS, pca.rank_)
    radii = np.sqrt(pca.mahalanobis_sq(run.zpoints("heldout")))
    low, high = settings["radius"]["band"]
    assert low < np.median(radii) < high and np.mean((radii >= low) & (radii <= high)) >= 0.8
    # The seed's sampler the run used (8 components, fact 0.6), not the defaults.
    assert settings["ellipse"]["source"] == "the parameters of samples/ellipse-pca"
    assert (settings["ellipse"]["n_components"], settings["ellipse"]["fact"]) == (8, 0.6)
    # Attribute directions are those of `aegen edit`, oriented towards the faces that have the attribute.
    names = [a["name"] for a in settings["attributes"]]
    assert "Smiling" in names
    from aegen.attributes.editing import fit_direction

    smiling = fit_direction(run, "Smiling")
    np.testing.assert_allclose(payload.arrays["attribute_directions"][names.index("Smiling")],
                               smiling.towards_positive(), atol=1e-6)
    # Start codes: held-out z-points by name, and seeded samples.
    heldout = settings["starts"][0]
    ids = list(run.zpoint_meta("heldout")["ids"])
    rows = [ids.index(name) for name in heldout["names"]]
    np.testing.assert_array_equal(payload.arrays["start_heldout"], run.zpoints("heldout")[rows])
    assert heldout["count"] == min(POOL_SIZE, TINY_HELDOUT)
    assert [s["key"] for s in settings["starts"]] == ["heldout", "gaussian", "gmm"]
    np.testing.assert_array_equal(explorer_payload(run).arrays["start_gmm"], payload.arrays["start_gmm"])
    # The page gets the same settings and an index of every array.
    written = explorer_settings(write_report(full_run, out_dir=tmp_path / "report", leave_out=OTHER_SECTIONS))
    assert written["attributes"] == json.loads(json.dumps(settings["attributes"]))
    assert set(written["arrays"]) == set(payload.arrays)


def test_a_run_without_attribute_labels_gets_pca_controls_only(full_run, tmp_path):
    from aegen.report import write_report

    run = Path(shutil.copytree(full_run, tmp_path / "run"))
    for split in ("train", "heldout"):
        (run / "zpoints" / f"{split}_attrs.npy").unlink()
    settings = explorer_settings(write_report(run, out_dir=tmp_path / "report", leave_out=OTHER_SECTIONS))
    assert settings["attributes"] == [] and "attribute_directions" not in settings["arrays"]
    assert settings["pca"]["n_sliders"] >= 2


def test_a_decoder_that_cannot_be_exported_leaves_the_explorer_out_in_one_line(full_run, tmp_path, monkeypatch):
    import aegen.report.explorer as explorer
    from aegen import AegenError
    from aegen.report import write_report

    def refuse(model, weights):
        raise AegenError("the decoder's activation Tanh() has no TF.js equivalent here")

    monkeypatch.setattr(explorer, "decoder_tfjs", refuse)
    text, page = read_page(write_report(full_run, out_dir=tmp_path / "report", leave_out=OTHER_SECTIONS))
    assert "omitted" not in page.sections["explorer"]
    (line,) = [p for p in re.findall(r'<p class="warning">(.*?)</p>', text) if "explorer" in p]
    assert "The explorer is left out" in line and "no TF.js equivalent" in line
    assert "aegen-explorer-settings" not in text and "<script" not in text


def test_missing_or_altered_runtime_files_leave_the_explorer_out(full_run, tmp_path, monkeypatch):
    import aegen.report.browser_runtime as runtime
    from aegen.report import write_report

    original, vendored = runtime.VENDOR_DIR, tmp_path / "vendor"
    shutil.copytree(original, vendored)
    (vendored / runtime.SCRIPTS[1]).write_text("// edited\n")
    monkeypatch.setattr(runtime, "VENDOR_DIR", vendored)
    text, _ = read_page(write_report(full_run, out_dir=tmp_path / "edited", leave_out=OTHER_SECTIONS))
    assert "does not match the checksum" in text and "<script" not in text
    shutil.copy(original / runtime.SCRIPTS[1], vendored)
    (vendored / runtime.WASM).unlink()
    text, _ = read_page(write_report(full_run, out_dir=tmp_path / "missing", leave_out=OTHER_SECTIONS))
    assert "runtime&#x27;s files are missing" in text and "vendor_tfjs.py" in text


def test_the_vendored_runtime_matches_its_manifest():
    from aegen.report.browser_runtime import VENDOR_DIR, load_browser_runtime

    manifest = json.loads((VENDOR_DIR / "VENDORED.json").read_text())
    packages = manifest["packages"]
    assert set(packages) == {"@tensorflow/tfjs-core", "@tensorflow/tfjs-layers", "@tensorflow/tfjs-backend-wasm"}
    assert {entry["version"] for entry in packages.values()} == {manifest["version"]}
    assert packages["@tensorflow/tfjs-core"]["license"] == "Apache-2.0"
    assert packages["@tensorflow/tfjs-layers"]["license"] == "Apache-2.0 AND MIT"
    assert all(entry["npm_integrity"].startswith("sha512-") for entry in packages.values())
    for name, entry in manifest["files"].items():
        data = (VENDOR_DIR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
    runtime = load_browser_runtime()
    assert runtime.version == manifest["version"] and runtime.wasm[:4] == b"\0asm"
    assert runtime.script.startswith(b"/**") and b"loadLayersModel" in runtime.script and b"setWasmPaths" in runtime.script
    licence = (VENDOR_DIR / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0" in licence and "The MIT License" in licence


def test_no_explorer_leaves_it_out_with_a_hint(full_run, tmp_path):
    assert main(["report", str(full_run), "--out", str(tmp_path / "report"), "--no-explorer"]) == 0
    text, page = read_page(tmp_path / "report" / "index.html")
    assert "omitted" in page.sections["explorer"] and "<code>--no-explorer</code>" in text
    assert not page.scripts and "aegen-explorer-settings" not in text


def test_a_spectrally_normalised_decoder_exports_its_normalised_weights():
    import torch

    from aegen.decoder_tfjs import decoder_tfjs
    from aegen.model import ConvAutoencoder, ModelConfig

    torch.manual_seed(0)
    model = ConvAutoencoder(ModelConfig(image_size=32, z_dim=16, channels=(8, 8, 16, 16), spectral_norm=True,
                                        batch_norm=False))
    model.train()
    model(torch.rand(4, 3, 32, 32))  # a power iteration moves the normalisation's vectors off their start
    model.eval()
    weights = weights_of(decoder_tfjs(model))
    conv = model.decoder[2]
    with torch.no_grad():
        normalised, raw = conv.weight.numpy(), conv.parametrizations.weight.original.numpy()
    np.testing.assert_array_equal(weights["deconv0/kernel"], normalised.transpose(2, 3, 1, 0))
    assert np.abs(normalised - raw).max() > 1e-3  # the normalisation changed the weights
    assert any(torch.nn.utils.parametrize.is_parametrized(m) for m in model.decoder.modules())  # model untouched


def test_the_sections_left_out_are_every_other_section_and_an_unknown_name_is_refused(full_run, tmp_path):
    from aegen.report import write_report
    from aegen.report.build import SECTION_BUILDERS

    assert set(OTHER_SECTIONS) == {anchor for anchor, _, _ in SECTION_BUILDERS} - {"explorer"}
    text, page = read_page(write_report(full_run, out_dir=tmp_path / "report", leave_out=OTHER_SECTIONS))
    assert all("omitted" in page.sections[anchor] for anchor in OTHER_SECTIONS)
    assert "omitted" not in page.sections["explorer"] and "aegen-explorer-settings" in text
    assert text.count("left out of this report.") == len(OTHER_SECTIONS) and "--no-run" not in text
    with pytest.raises(ValueError, match="no report section named latnet"):
        write_report(full_run, out_dir=tmp_path / "other", leave_out=("latnet",))
