"""The report's latent explorer without a browser: the decoder's export, the data the page gets,
and the report without the explorer's parts. tests/test_report_browser.py runs it in Chromium."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from aegen.cli import main
from conftest import TINY_HELDOUT
from test_report import full_run, read_page  # noqa: F401  (the shared run fixture)

needs_onnx = pytest.mark.skipif(importlib.util.find_spec("onnx") is None,
                                reason="the explorer's export needs the onnx package (aegen[explorer])")

SETTINGS_SCRIPT = re.compile(r'<script type="application/json" id="aegen-explorer-settings">(.*?)</script>', re.S)


def explorer_settings(index: Path) -> dict | None:
    """The explorer's settings JSON in a written report, or None when the page has no explorer."""
    found = SETTINGS_SCRIPT.search(index.read_text(encoding="utf-8"))
    return json.loads(found.group(1)) if found else None


@needs_onnx
def test_the_exported_decoder_matches_torch(full_run):
    import onnx

    from aegen.decoder_onnx import decoder_onnx, export_difference
    from aegen.run import Run

    model = Run.open(full_run).load_model("cpu")
    exported = decoder_onnx(model)
    graph = onnx.load_from_string(exported).graph
    assert [i.name for i in graph.input] == ["z"] and [o.name for o in graph.output] == ["image"]
    assert {"ConvTranspose", "Sigmoid"} <= {node.op_type for node in graph.node}
    assert all(init.data_type == onnx.TensorProto.FLOAT for init in graph.initializer)  # weights stay float32
    assert export_difference(model, exported, n=16, seed=0) < 1e-5


@needs_onnx
def test_float16_weights_halve_the_decoder_and_move_a_pixel_by_a_fraction_of_a_grey_level():
    """The explorer's export: weight matrices and kernels as float16, cast back to float32 in the graph."""
    import onnx
    import torch

    from aegen.decoder_onnx import decoder_onnx, export_difference, onnx_decode
    from aegen.model import ConvAutoencoder, ModelConfig, to_images

    torch.manual_seed(0)
    model = ConvAutoencoder(ModelConfig(image_size=32, z_dim=32, channels=(16, 16, 32, 32))).eval()
    full, half = decoder_onnx(model), decoder_onnx(model, weights="float16")
    graph = onnx.load_from_string(half).graph
    floats = [init for init in graph.initializer if init.data_type != onnx.TensorProto.INT64]
    types = {len(init.dims) >= 2: init.data_type for init in floats}
    assert types == {True: onnx.TensorProto.FLOAT16, False: onnx.TensorProto.FLOAT}  # vectors stay float32
    casts = [node for node in graph.node if node.op_type == "Cast"]
    assert len(casts) == 5 and all(node.attribute[0].i == onnx.TensorProto.FLOAT for node in casts)
    assert len(half) < 0.55 * len(full)
    difference = export_difference(model, half, n=16, seed=0)
    assert 1e-7 < difference < 2e-3  # rounded, but by far less than a grey level (1/255 = 3.9e-3)
    Z = np.random.default_rng(1).standard_normal((16, 32)).astype(np.float32)
    with torch.no_grad():
        expected = to_images(model.decode(torch.from_numpy(Z))).astype(int)
    pixels = to_images(torch.from_numpy(onnx_decode(half, Z))).astype(int)
    assert np.abs(pixels - expected).max() <= 1 and np.abs(pixels - expected).mean() < 0.05
    with pytest.raises(ValueError, match="weights must be one of"):
        decoder_onnx(model, weights="int8")


@needs_onnx
def test_the_explorer_of_a_demo_size_decoder_adds_under_eight_and_a_half_mb():
    """The page's bytes for the explorer of the demo's model (32 px, z 256, the default widths) with
    a 256-d run's arrays: 10.6 MB with float32 weights, 8.2 MB with float16 (2026-12-06)."""
    import torch

    from aegen.decoder_onnx import decoder_onnx
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
                              decoder_onnx(model, weights=DECODER_WEIGHTS))
    size = len(explorer_html(Explorer(payload, load_browser_runtime())).encode())
    assert size < 8.5e6, size


@needs_onnx
def test_a_96px_run_exports_and_gets_an_explorer(run_96px, tmp_path):
    from aegen.decoder_onnx import decoder_onnx, export_difference
    from aegen.report import write_report
    from aegen.run import Run

    model = Run.open(run_96px).load_model("cpu")
    assert export_difference(model, decoder_onnx(model), n=2, seed=1) < 1e-5
    assert export_difference(model, decoder_onnx(model, weights="float16"), n=2, seed=1) < 2e-3
    index = write_report(run_96px, out_dir=tmp_path / "report")
    settings = explorer_settings(index)
    assert settings["image_size"] == 96 and settings["z_dim"] == 8
    assert 'width="96" height="96"' in index.read_text(encoding="utf-8")


@needs_onnx
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
    written = explorer_settings(write_report(full_run, out_dir=tmp_path / "report"))
    assert written["attributes"] == json.loads(json.dumps(settings["attributes"]))
    assert set(written["arrays"]) == set(payload.arrays)


@needs_onnx
def test_a_run_without_attribute_labels_gets_pca_controls_only(full_run, tmp_path):
    from aegen.report import write_report

    run = Path(shutil.copytree(full_run, tmp_path / "run"))
    for split in ("train", "heldout"):
        (run / "zpoints" / f"{split}_attrs.npy").unlink()
    settings = explorer_settings(write_report(run, out_dir=tmp_path / "report"))
    assert settings["attributes"] == [] and "attribute_directions" not in settings["arrays"]
    assert settings["pca"]["n_sliders"] >= 2


def test_without_onnx_the_report_says_why_in_one_line(full_run, tmp_path, monkeypatch):
    import aegen.report.explorer as explorer
    from aegen import AegenError
    from aegen.report import write_report

    def no_onnx():
        raise AegenError("exporting the decoder needs the onnx package (pip install 'aegen[explorer]')")

    monkeypatch.setattr(explorer, "require_onnx", no_onnx)
    text, page = read_page(write_report(full_run, out_dir=tmp_path / "report"))
    assert "omitted" not in page.sections["explorer"]
    (line,) = [p for p in re.findall(r'<p class="warning">(.*?)</p>', text) if "explorer" in p]
    assert "The explorer is left out" in line and "aegen[explorer]" in line
    assert "aegen-explorer-settings" not in text and "<script" not in text


def test_missing_or_altered_runtime_files_leave_the_explorer_out(full_run, tmp_path, monkeypatch):
    import aegen.report.browser_runtime as runtime
    from aegen.report import write_report

    original, vendored = runtime.VENDOR_DIR, tmp_path / "vendor"
    shutil.copytree(original, vendored)
    (vendored / runtime.SCRIPT).write_text("// edited\n")
    monkeypatch.setattr(runtime, "VENDOR_DIR", vendored)
    text, _ = read_page(write_report(full_run, out_dir=tmp_path / "edited"))
    assert "does not match the checksum" in text and "<script" not in text
    shutil.copy(original / runtime.SCRIPT, vendored)
    (vendored / runtime.WASM_GZ).unlink()
    text, _ = read_page(write_report(full_run, out_dir=tmp_path / "missing"))
    assert "runtime&#x27;s files are missing" in text and "vendor_onnxruntime_web.py" in text


def test_the_vendored_runtime_matches_its_manifest():
    from aegen.report.browser_runtime import VENDOR_DIR, load_browser_runtime

    manifest = json.loads((VENDOR_DIR / "VENDORED.json").read_text())
    assert manifest["package"] == "onnxruntime-web" and manifest["license"] == "MIT"
    for name, entry in manifest["files"].items():
        data = (VENDOR_DIR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
    runtime = load_browser_runtime()
    assert runtime.version == manifest["version"] and "var ort=" in runtime.script
    assert runtime.wasm_gz[:2] == b"\x1f\x8b" and "MIT License" in (VENDOR_DIR / "LICENSE").read_text()


def test_no_explorer_leaves_it_out_with_a_hint(full_run, tmp_path):
    assert main(["report", str(full_run), "--out", str(tmp_path / "report"), "--no-explorer"]) == 0
    text, page = read_page(tmp_path / "report" / "index.html")
    assert "omitted" in page.sections["explorer"] and "<code>--no-explorer</code>" in text
    assert not page.scripts and "aegen-explorer-settings" not in text


@needs_onnx
def test_a_spectrally_normalised_decoder_exports_as_plain_layers():
    import onnx
    import torch

    from aegen.decoder_onnx import decoder_onnx, export_difference
    from aegen.model import ConvAutoencoder, ModelConfig

    torch.manual_seed(0)
    model = ConvAutoencoder(ModelConfig(image_size=32, z_dim=16, channels=(8, 8, 16, 16), spectral_norm=True))
    model.train()
    model(torch.rand(4, 3, 32, 32))  # a power iteration moves the normalisation's vectors off their start
    model.eval()
    exported = decoder_onnx(model)
    ops = {node.op_type for node in onnx.load_from_string(exported).graph.node}
    assert "ConvTranspose" in ops and not ops & {"MatMul", "Div", "ReduceL2"}  # no normalisation left in the graph
    assert export_difference(model, exported, n=8, seed=0) < 1e-5
    assert any(torch.nn.utils.parametrize.is_parametrized(m) for m in model.decoder.modules())  # model untouched
