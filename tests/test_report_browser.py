"""The report of a run with every step, rendered in headless Chromium: every image loads, no console error.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: the
browser reads commands on fd 3 and answers on fd 4), so the test needs no websocket client
or browser-automation package. It skips when /usr/bin/chromium is absent (Debian packages
``chromium`` and ``chromium-driver``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from test_report import full_run, trained_only  # noqa: F401  (the shared run fixtures)
from test_report_explorer import run_96px  # noqa: F401

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT_COPY = Path("/tmp/report_screenshot.png")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--remote-debugging-pipe"]
PAGE_WIDTH = 1280
MAX_SCREENSHOT_HEIGHT = 16_000

# Checked before any fixture runs, so a machine without Chromium does not build the run for nothing.
pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason="headless Chromium (/usr/bin/chromium) is not installed")


class Chromium:
    """A headless Chromium process and its DevTools connection over two pipes."""

    def __init__(self, profile: Path, timeout: float = 60.0):
        self.timeout = timeout
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def connect_pipes():  # in the child, before exec: fd 3 reads commands, fd 4 writes answers
            read_end, write_end = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self.process = subprocess.Popen([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                        preexec_fn=connect_pipes, close_fds=False,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, event: str) -> dict:
        deadline = time.monotonic() + self.timeout
        for seen in self.events:
            if seen.get("method") == event:
                return seen
        while True:
            message = self._read_message(deadline)
            self.events.append(message)
            if message.get("method") == event:
                return message

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass


def console_errors(events: list[dict]) -> list[str]:
    """Console errors, uncaught exceptions and failed loads among the DevTools events."""
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            errors.append("exception: " + str(params.get("exceptionDetails", {}).get("text")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"log: {entry.get('text')} {entry.get('url', '')}")
    return errors


class Page:
    """One tab of a headless Chromium showing a page, with its DevTools session."""

    def __init__(self, browser: Chromium, session: str):
        self.browser, self.session = browser, session

    def call(self, method: str, params: dict | None = None) -> dict:
        return self.browser.call(method, params, session=self.session)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression (a promise is awaited); RuntimeError if it throws."""
        reply = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True})
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression[:80]}: {reply['exceptionDetails'].get('exception', {}).get('description')}")
        return reply["result"].get("value")

    def errors(self) -> list[str]:
        return console_errors(self.browser.events)


@contextlib.contextmanager
def open_page(index: Path, profile: Path):
    """``index`` loaded in a fresh headless Chromium, PAGE_WIDTH CSS pixels wide; closed on exit."""
    browser = Chromium(profile)
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(browser, session)
        for domain in ("Page", "Runtime", "Log"):
            page.call(f"{domain}.enable")
        page.call("Emulation.setDeviceMetricsOverride",
                  {"width": PAGE_WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        page.call("Page.navigate", {"url": index.resolve().as_uri()})
        browser.wait_for("Page.loadEventFired")
        yield page
    finally:
        browser.close()


def screenshot(page: Page, path: Path, clip: dict) -> None:
    """Save the part ``clip`` ({x, y, width, height} in CSS pixels of the whole page) as a PNG."""
    shot = page.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                "clip": {**clip, "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))


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
    victim = sorted((tmp_path / "report" / "images").glob("*.png"))[0]
    victim.unlink()
    page = render_page(index, tmp_path / "broken.png", tmp_path / "profile")

    broken = [image["src"] for image in page["images"] if image["width"] == 0]
    assert broken and set(broken) == {f"images/{victim.name}"}
    assert any("ERR_FILE_NOT_FOUND" in error for error in page["errors"])


# -- the latent explorer ------------------------------------------------------------------------

EXPLORER_SCREENSHOT_COPY = Path("/tmp/explorer_screenshot.png")


def explorer_ready(page: Page) -> dict:
    """Wait until the explorer decoded its first face; its state (radius, frames, decode times)."""
    page.evaluate("aegenExplorer.ready")
    return page.evaluate("aegenExplorer.state")


def drag_slider(page: Page, control: str, start: float, stop: float) -> float:
    """Drag the slider ``control`` with the mouse from ``start`` to ``stop`` (fractions of its width);
    returns the slider's value once the explorer has decoded the new vector."""
    selector = json.dumps(f'input[data-control="{control}"]')
    box = page.evaluate(f"(() => {{ const s = document.querySelector({selector}); "
                        "s.scrollIntoView({block: 'center', behavior: 'instant'}); const r = s.getBoundingClientRect(); "
                        "return [r.left, r.top, r.width, r.height]; })()")
    y = box[1] + box[3] / 2
    for kind, fraction in (("mousePressed", start), ("mouseMoved", (start + stop) / 2), ("mouseMoved", stop),
                           ("mouseReleased", stop)):
        page.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0] + fraction * box[2], "y": y,
                                               "button": "left", "buttons": 0 if kind == "mouseReleased" else 1,
                                               "clickCount": 1})
    page.evaluate("aegenExplorer.idle()")
    return float(page.evaluate(f"document.querySelector({selector}).value"))


def canvas_pixels(page: Page, size: int) -> np.ndarray:
    """The explorer's canvas as an (S, S, 3) uint8 image."""
    rgba = page.evaluate("Array.from(document.getElementById('aegen-explorer-canvas').getContext('2d')"
                         ".getImageData(0, 0, document.getElementById('aegen-explorer-canvas').width, "
                         "document.getElementById('aegen-explorer-canvas').height).data)")
    return np.asarray(rgba, dtype=np.uint8).reshape(size, size, 4)[..., :3]


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
    ellipse, _ = fitted_sampler(run, "ellipse-pca", seed_sampler_params(run, run.z_dim)[0], progress=False)
    excess = float(ellipse.pair_excess(z[None])[0])
    assert state["largestPairSum"] - 1 == pytest.approx(excess, abs=1e-4) and state["inside"] == (excess <= 0)
    expected = run.decode(z[None].astype(np.float32), progress=False)[0]
    difference = np.abs(canvas_pixels(page, run.image_size).astype(int) - expected.astype(int))
    assert difference.mean() < 1.0, difference.mean()  # below one grey level
    return {"mean_abs_difference": float(difference.mean()), "max_abs_difference": int(difference.max())}


def explorer_screenshot(page: Page, path: Path) -> None:
    clip = page.evaluate("(() => { const r = document.getElementById('explorer').getBoundingClientRect(); "
                         "return {x: r.left, y: r.top + scrollY, width: r.width, height: r.height}; })()")
    screenshot(page, path, clip)


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
    difference = np.abs(np.asarray(decoded, dtype=np.float32).reshape(expected.shape) - expected)
    assert errors == [] and difference.max() < 1e-4
    print(f"browser decoder vs torch: max abs difference {difference.max():.2e} on {len(Z)} random z-vectors")


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
