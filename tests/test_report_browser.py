"""The report rendered in headless Chromium: every image loads, no console error, and the latent
explorer decodes what aegen decodes. Chromium is driven by :mod:`chromium` (no browser package);
the tests skip when /usr/bin/chromium is absent (Debian packages ``chromium`` and ``chromium-driver``).
"""

from __future__ import annotations

import importlib.util
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
pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason="headless Chromium (/usr/bin/chromium) is not installed")
needs_onnx = pytest.mark.skipif(importlib.util.find_spec("onnx") is None,
                                reason="the explorer's export needs the onnx package (aegen[explorer])")


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


@needs_onnx
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


@needs_onnx
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
    difference = np.abs(np.asarray(decoded, dtype=np.float32).reshape(expected.shape) - expected)
    assert errors == [] and difference.max() < 1e-4
    print(f"browser decoder vs torch: max abs difference {difference.max():.2e} on {len(Z)} random z-vectors")


@needs_onnx
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
