"""Headless Chromium driven over the DevTools protocol, for the report's browser tests and screenshots.

Chromium is driven on a pipe (``--remote-debugging-pipe``: the browser reads commands on fd 3 and
answers on fd 4), so nothing beyond the Debian packages ``chromium`` and ``chromium-driver`` is
needed: no websocket client or browser-automation package. Used by tests/test_report_browser.py
and benchmarks/explorer_screenshot.py.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import subprocess
import time
from pathlib import Path

import numpy as np

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--remote-debugging-pipe"]
PAGE_WIDTH = 1280


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
        # Without a scrollbar the layout is the same in the viewport and in a screenshot beyond it.
        page.call("Emulation.setScrollbarsHidden", {"hidden": True})
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


# -- the report's latent explorer ------------------------------------------------------------

def explorer_ready(page: Page) -> dict:
    """Wait until the explorer decoded its first face; its state (radius, frames, decode times)."""
    page.evaluate("aegenExplorer.ready")
    return page.evaluate("aegenExplorer.state")


def drag_slider(page: Page, control: str, start: float, stop: float, steps: int = 2) -> float:
    """Drag the slider ``control`` with the mouse from ``start`` to ``stop`` (fractions of its width)
    in ``steps`` moves; returns the slider's value once the explorer has decoded the new vector."""
    selector = json.dumps(f'input[data-control="{control}"]')
    box = page.evaluate(f"(() => {{ const s = document.querySelector({selector}); "
                        "s.scrollIntoView({block: 'center', behavior: 'instant'}); const r = s.getBoundingClientRect(); "
                        "return [r.left, r.top, r.width, r.height]; })()")
    y = box[1] + box[3] / 2
    moves = [("mouseMoved", start + (stop - start) * (k + 1) / steps) for k in range(steps)]
    for kind, fraction in [("mousePressed", start), *moves, ("mouseReleased", stop)]:
        page.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0] + fraction * box[2], "y": y,
                                               "button": "left", "buttons": 0 if kind == "mouseReleased" else 1,
                                               "clickCount": 1})
    page.evaluate("aegenExplorer.idle()")
    return float(page.evaluate(f"document.querySelector({selector}).value"))


def canvas_pixels(page: Page, size: int) -> np.ndarray:
    """The explorer's canvas as an (S, S, 3) uint8 image."""
    rgba = page.evaluate("(() => { const c = document.getElementById('aegen-explorer-canvas'); "
                         "return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); })()")
    return np.asarray(rgba, dtype=np.uint8).reshape(size, size, 4)[..., :3]


def explorer_screenshot(page: Page, path: Path, margin: int = 12) -> None:
    """Save the explorer's section, with ``margin`` CSS pixels around it, as a PNG."""
    clip = page.evaluate(f"(() => {{ const r = document.getElementById('explorer').getBoundingClientRect(); "
                         f"return {{x: r.left - {margin}, y: r.top + scrollY - {margin}, width: r.width + {2 * margin}, "
                         f"height: r.height + {2 * margin}}}; }})()")
    screenshot(page, path, clip)
