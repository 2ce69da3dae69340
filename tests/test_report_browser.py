"""The report of a run with every step, rendered in headless Chromium: every image loads, no console error.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: the
browser reads commands on fd 3 and answers on fd 4), so the test needs no websocket client
or browser-automation package. It skips when /usr/bin/chromium is absent (Debian packages
``chromium`` and ``chromium-driver``).
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from test_report import full_run  # noqa: F401  (the shared run fixture)

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


def render_page(index: Path, screenshot: Path, profile: Path) -> dict:
    """Open ``index`` in headless Chromium; return its images and errors, and save a full-page screenshot."""
    browser = Chromium(profile)
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            browser.call(f"{domain}.enable", session=session)
        browser.call("Emulation.setDeviceMetricsOverride",
                     {"width": PAGE_WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=session)
        browser.call("Page.navigate", {"url": index.resolve().as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired")
        images = browser.call("Runtime.evaluate", {"returnByValue": True, "expression": (
            "Array.from(document.images).map(i => ({src: i.getAttribute('src').slice(0, 120), "
            "complete: i.complete, width: i.naturalWidth}))")}, session=session)["result"]["value"]
        height = browser.call("Page.getLayoutMetrics", session=session)["cssContentSize"]["height"]
        shot = browser.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": PAGE_WIDTH, "height": min(height, MAX_SCREENSHOT_HEIGHT), "scale": 1}},
            session=session)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        return {"images": images, "errors": console_errors(browser.events), "height": height}
    finally:
        browser.close()


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
