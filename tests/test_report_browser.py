"""The report rendered in headless Chromium: every image loads, no console error, and the latent
explorer decodes what aegen decodes. Chromium is driven by :mod:`chromium` (no browser package);
the tests skip when /usr/bin/chromium is absent (Debian packages ``chromium`` and ``chromium-driver``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from chromium import (CHROMIUM, PAGE_WIDTH, Page, canvas_pixels, drag_slider, explorer_ready, explorer_screenshot,
                      open_page, screenshot)
from test_report import full_run, trained_only  # noqa: F401  (the shared run fixtures)

SCREENSHOT_COPY = Path("/tmp/report_screenshot.png")
MAX_SCREENSHOT_HEIGHT = 16_000

# Checked before any fixture runs, so a machine without Chromium does not build the run for nothing.
# Each test starts a real browser (1-5 s): the quick run leaves them out, CI's full run has them.
pytestmark = [pytest.mark.skipif(not CHROMIUM.is_file(), reason="headless Chromium (/usr/bin/chromium) is not installed"),
              pytest.mark.slow]


def render_page(index: Path, screenshot_path: Path, profile: Path) -> dict:
    """Open ``index`` in headless Chromium; return its images and errors, and save a full-page screenshot."""
    with open_page(index, profile) as page:
        images = page.evaluate(
            "Array.from(document.images).map(i => ({src: i.getAttribute('src').slice(0, 120), "
            "complete: i.complete, width: i.naturalWidth}))")
        height = page.call("Page.getLayoutMetrics")["cssContentSize"]["height"]
        screenshot(page, screenshot_path, {"x": 0, "y": 0, "width": PAGE_WIDTH, "height": min(height, MAX_SCREENSHOT_HEIGHT)})
        return {"images": images, "errors": page.errors(), "height": height}


def test_the_report_renders_in_chromium_with_every_image_and_no_console_error(full_run, tmp_path):
    from aegen.report import write_report

    index = write_report(full_run, out_dir=tmp_path / "report")
    screenshot = tmp_path / "report.png"
    page = render_page(index, screenshot, tmp_path / "profile")

    assert page["errors"] == []
    assert len(page["images"]) >= 20  # every section of a full run shows figures
    broken = [image for image in page["images"] if not (image["complete"] and image["width"] > 0)]
    assert broken == []
    assert screenshot.stat().st_size > 10_000
    assert page["height"] > 3000  # the whole page, not a blank viewport
    shutil.copyfile(screenshot, SCREENSHOT_COPY)


def test_a_missing_image_is_caught(full_run, tmp_path):
    """The check above can fail: a report whose image file is gone shows up as broken."""
    from aegen.report import write_report

    index = write_report(full_run, out_dir=tmp_path / "report")
    victim = sorted(p for p in (tmp_path / "report" / "images").iterdir() if p.suffix in (".png", ".webp"))[0]
    victim.unlink()
    page = render_page(index, tmp_path / "broken.png", tmp_path / "profile")

    broken = [image["src"] for image in page["images"] if image["width"] == 0]
    assert broken and set(broken) == {f"images/{victim.name}"}
    assert any("ERR_FILE_NOT_FOUND" in error for error in page["errors"])


# -- the latent explorer ------------------------------------------------------------------------

EXPLORER_SCREENSHOT_COPY = Path("/tmp/explorer_screenshot.png")


def check_drag_matches_python(page: Page, run_path: Path) -> dict:
    """Drag PC 1, then compare the page's vector, face, radius and ellipse verdict with aegen's."""
    from aegen.latent.pca import LatentPCA
    from aegen.report.explorer import seed_sampler_params
    from aegen.run import Run
    from aegen.sample import fitted_sampler

    run = Run.open(run_path)
    before = np.asarray(page.evaluate("aegenExplorer.z()"))
    value = drag_slider(page, "pc1", 0.15, 0.8)
    state = page.evaluate("aegenExplorer.state")
    z = np.asarray(page.evaluate("aegenExplorer.z()"))
    pca = LatentPCA().fit(run.zpoints("train"))
    sigmas = np.sqrt(pca.explained_variance_[:pca.rank_])
    coordinates = pca.transform(np.stack([before, z]))[:, :pca.rank_] / sigmas
    assert coordinates[1, 0] == pytest.approx(value, abs=1e-4)  # PC 1 is where its slider shows
    assert abs(coordinates[1, 0] - coordinates[0, 0]) > 0.5
    np.testing.assert_allclose(coordinates[1, 1:], coordinates[0, 1:], atol=1e-4)  # and nothing else moved
    assert state["radius"] == pytest.approx(float(np.sqrt(pca.mahalanobis_sq(z[None]))[0]), rel=1e-4)
    ellipse, _ = fitted_sampler(run, "ellipse-pca", seed_sampler_params(run)[0], progress=False)
    excess = float(ellipse.pair_excess(z[None])[0])
    assert state["largestPairSum"] - 1 == pytest.approx(excess, abs=1e-4) and state["inside"] == (excess <= 0)
    expected = run.decode(z[None].astype(np.float32), progress=False)[0]
    difference = np.abs(canvas_pixels(page, run.image_size).astype(int) - expected.astype(int))
    assert difference.mean() < 1.0, difference.mean()  # below one grey level
    return {"mean_abs_difference": float(difference.mean()), "max_abs_difference": int(difference.max())}


def test_the_explorer_decodes_in_chromium_what_aegen_decodes(full_run, tmp_path):
    from aegen.report import write_report

    index = write_report(full_run, out_dir=tmp_path / "report")
    with open_page(index, tmp_path / "profile") as page:
        state = explorer_ready(page)
        assert state["ready"] and state["frames"] == 1
        result = check_drag_matches_python(page, full_run)
        n_attributes = page.evaluate("document.querySelectorAll('input[data-control^=\"attr-\"]').length")
        band = page.evaluate("JSON.parse(document.getElementById('aegen-explorer-settings').textContent).radius.band")
        drag_slider(page, "radius", 0.5, 0.02)  # towards the centre, inside the shell of real faces
        pulled_in = page.evaluate("aegenExplorer.state.radius")
        page.evaluate("document.querySelector('button[data-start=\"gmm\"]').click(); aegenExplorer.idle()")
        started = page.evaluate("document.getElementById('aegen-explorer-start').textContent")
        frames = page.evaluate("aegenExplorer.state.decodeMs")
        explorer_screenshot(page, tmp_path / "explorer.png")
        errors = page.errors()
    assert errors == []
    assert n_attributes >= 3 and pulled_in < band[0] and started.startswith("GMM sample (1 of 16")
    assert len(frames) >= 4 and float(np.median(frames[1:])) < 100  # live: well under 100 ms a frame
    shutil.copyfile(tmp_path / "explorer.png", EXPLORER_SCREENSHOT_COPY)
    print(f"explorer: canvas vs aegen decode {result['mean_abs_difference']:.3f} mean, "
          f"{result['max_abs_difference']} max grey levels; median decode {np.median(frames[1:]):.1f} ms "
          f"over {len(frames) - 1} frames")


def test_the_decoder_runs_in_the_browser_as_in_torch(full_run, tmp_path):
    """The export checked with the runtime that uses it: random z-vectors, outputs in [0, 1]."""
    import torch

    from aegen.report import write_report
    from aegen.run import Run

    model = Run.open(full_run).load_model("cpu")
    Z = np.random.default_rng(3).standard_normal((8, model.cfg.z_dim)).astype(np.float32) * 2
    with open_page(write_report(full_run, out_dir=tmp_path / "report"), tmp_path / "profile") as page:
        explorer_ready(page)
        decoded = page.evaluate(f"aegenExplorer.decode({json.dumps(Z.ravel().tolist())}, {len(Z)})")
        errors = page.errors()
    with torch.no_grad():
        expected = model.decode(torch.from_numpy(Z)).numpy()
    channels_last = np.asarray(decoded, dtype=np.float32).reshape(len(Z), *expected.shape[2:], 3)
    difference = np.abs(channels_last.transpose(0, 3, 1, 2) - expected)
    assert errors == [] and difference.max() < 1e-4  # float16 kernels; float32 ones: the test below
    print(f"browser decoder (float16 kernels) vs torch: max abs difference {difference.max():.2e} "
          f"on {len(Z)} random z-vectors")


# -- the TF.js export of every decoder setting, evaluated in Chromium --------------------------------

HARNESS = """(async () => {
  const PREFIX = "aegen-explorer-";
  const bytes = (name) => Uint8Array.from(atob(document.getElementById(PREFIX + name).textContent.trim()),
                                          (c) => c.charCodeAt(0));
  const inflate = async (name) => new Uint8Array(await new Response(
    new Blob([bytes(name)]).stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer());
  const script = document.createElement("script");
  script.src = URL.createObjectURL(new Blob([await inflate("tfjs")], {type: "text/javascript"}));
  await new Promise((resolve) => { script.onload = resolve; document.head.append(script); });
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  const wasm = URL.createObjectURL(new Blob([await inflate("tfjs-wasm")], {type: "application/wasm"}));
  tf.wasm.setWasmPaths({"tfjs-backend-wasm-simd.wasm": wasm, "tfjs-backend-wasm.wasm": wasm,
                        "tfjs-backend-wasm-threaded-simd.wasm": wasm});
  if (!(await tf.setBackend("wasm"))) throw new Error("no wasm backend");
  const cases = JSON.parse(document.getElementById(PREFIX + "cases").textContent);
  const out = [];
  for (const [k, c] of cases.entries()) {
    const weights = await inflate("weights-" + k);
    const model = await tf.loadLayersModel(tf.io.fromMemory({...c.artifacts, weightData: weights.buffer}));
    const y = model.predict(tf.tensor2d(c.z, [c.z.length / c.d, c.d]));
    out.push(Array.from(await y.data()));
  }
  return {outputs: out, backend: tf.getBackend()};
})()"""


def decode_in_chromium(models: list, Zs: list[np.ndarray], folder: Path) -> tuple[list[np.ndarray], list[str], str]:
    """Each exported model (aegen.decoder_tfjs.TfjsModel) run on its z-vectors by the vendored
    TensorFlow.js in a page opened from disk: (n, 3, S, S) outputs, the console errors, the backend."""
    from aegen.report.browser_runtime import load_browser_runtime
    from aegen.report.explorer_html import _binary_script, _gzip, _json_script, _runtime_gz

    runtime = load_browser_runtime()
    cases = [{"artifacts": m.artifacts(), "z": Z.ravel().tolist(), "d": Z.shape[1]} for m, Z in zip(models, Zs)]
    page = folder / "harness.html"
    page.write_text("\n".join(["<!doctype html><html><head><meta charset=\"utf-8\"></head><body>",
                               _json_script("cases", cases),
                               *[_binary_script(f"weights-{k}", _gzip(m.weight_data)) for k, m in enumerate(models)],
                               _binary_script("tfjs", _runtime_gz(runtime.script)),
                               _binary_script("tfjs-wasm", _runtime_gz(runtime.wasm)), "</body></html>"]),
                    encoding="utf-8")
    with open_page(page, folder / "profile") as tab:
        result = tab.evaluate(HARNESS)
        errors = tab.errors()
    outputs = [np.asarray(o, dtype=np.float32).reshape(len(Z), -1, 3) for o, Z in zip(result["outputs"], Zs)]
    sides = [int(round(np.sqrt(o.shape[1]))) for o in outputs]
    return ([o.reshape(len(o), s, s, 3).transpose(0, 3, 1, 2) for o, s in zip(outputs, sides)], errors,
            result["backend"])


def test_every_decoder_setting_runs_in_the_browser_as_in_torch(tmp_path):
    """Kernel sizes 2-7 (odd ones: 'valid' padding and a crop), each activation, no batch norm,
    spectral norm, 64-128 px, the resize-convolution decoder (odd and even kernels, normalised): float32 weights within 1e-5 of torch, float16 kernels within 1e-3;
    a wrong padding (odd kernel exported as 'same', no crop) is caught."""
    import copy

    import torch

    from aegen.decoder_tfjs import decoder_tfjs
    from test_report_explorer import small_model

    settings = [{"kernel_size": k} for k in (2, 3, 4, 5, 6, 7)] + \
        [{"activation": a} for a in ("elu", "relu", "silu")] + \
        [{"batch_norm": False}, {"spectral_norm": True}, {"spectral_norm": True, "batch_norm": False, "kernel_size": 3}] + \
        [{"image_size": s} for s in (64, 96, 128)] + \
        [{"upsampling": "nearest", "kernel_size": k} for k in (3, 4)] + \
        [{"upsampling": "nearest", "spectral_norm": True, "batch_norm": False}]
    models, names, expected, Zs, exported = [], [], [], [], []
    for options in settings:
        model = small_model(**options)
        Z = np.random.default_rng(1).standard_normal((3, 16)).astype(np.float32) * 2
        with torch.no_grad():
            expected.append(model.decode(torch.from_numpy(Z)).numpy())
        models.append(decoder_tfjs(model))
        names.append(str(options))
        Zs.append(Z)
    half = small_model()
    with torch.no_grad():
        expected.append(half.decode(torch.from_numpy(Zs[0])).numpy())
    models.append(decoder_tfjs(half, weights="float16"))
    names.append("float16 kernels")
    Zs.append(Zs[0])
    wrong = copy.deepcopy(models[1])  # kernel 3, exported as TF's 'same' without the crop: off by a pixel
    layers = wrong.topology["config"]["layers"]
    for layer in layers:
        if layer["class_name"] == "Conv2DTranspose":
            layer["config"]["padding"] = "same"
    wrong.topology["config"]["layers"] = [layer for layer in layers if layer["class_name"] != "Cropping2D"]
    models.append(wrong)
    expected.append(expected[1])
    Zs.append(Zs[1])

    decoded, errors, backend = decode_in_chromium(models, Zs, tmp_path)
    differences = {name: float(np.abs(d - e).max()) for name, d, e in zip(names + ["wrong"], decoded, expected)}
    print("TF.js in Chromium vs torch, max abs difference:", {k: f"{v:.1e}" for k, v in differences.items()})
    assert errors == [] and backend == "wasm"
    assert all(differences[name] < 1e-5 for name in names[:-1]), differences
    assert 1e-7 < differences["float16 kernels"] < 1e-3
    assert differences["wrong"] > 1e-2


def test_a_96px_run_renders_its_explorer(run_96px, tmp_path):
    from aegen.report import write_report

    with open_page(write_report(run_96px, out_dir=tmp_path / "report"), tmp_path / "profile") as page:
        explorer_ready(page)
        result = check_drag_matches_python(page, run_96px)
        errors = page.errors()
    assert errors == [] and result["mean_abs_difference"] < 1.0


def test_a_report_without_the_explorer_renders_without_errors(trained_only, tmp_path):
    """An older run (no z-points): the explorer section is a hint, and the page has no script at all."""
    from aegen.report import write_report

    index = write_report(trained_only, out_dir=tmp_path / "report")
    with open_page(index, tmp_path / "profile") as page:
        scripts = page.evaluate("document.scripts.length")
        hint = page.evaluate("document.getElementById('explorer').className")
        errors = page.errors()
    assert errors == [] and scripts == 0 and hint == "omitted"
