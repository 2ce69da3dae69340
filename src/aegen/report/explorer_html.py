"""The explorer block as HTML: its markup, its data and decoder, the runtime and explorer.js, all inline.

A page opened from disk may not fetch anything (Chromium refuses fetch() of file:// URLs), so
every part is inside the page, in non-executed ``<script>`` elements: the settings and the
decoder's topology and weight manifest as JSON; the arrays, the decoder's weights, TensorFlow.js's
scripts and its WebAssembly as base64 of gzip. explorer.js, the one inline script, inflates
them, runs the runtime's scripts from a blob: URL and hands the WebAssembly to the backend as
another. Strings from the run (attribute names, image ids) only reach the page inside the JSON,
where ``<`` is escaped, and explorer.js writes them as text, never as markup.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
from pathlib import Path

from aegen.report.blocks import Explorer

SCRIPT = Path(__file__).resolve().parent / "explorer.js"
PREFIX = "aegen-explorer-"
# Canvas size on screen, CSS pixels: the decoded face enlarged without smoothing.
CANVAS_CSS = 288


def _json_script(name: str, value: dict) -> str:
    text = json.dumps(value, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    return f'<script type="application/json" id="{PREFIX}{name}">{text}</script>'


def _binary_script(name: str, gzipped: bytes) -> str:
    data = base64.b64encode(gzipped).decode("ascii")
    return f'<script type="application/octet-stream" id="{PREFIX}{name}">{data}</script>'


def _inline_script(code: str) -> str:
    """``code`` in a script element."""
    if "</script" in code.lower():
        raise ValueError("a script for the explorer contains '</script' and cannot be inlined")
    return f"<script>\n{code}\n</script>"


def _gzip(data: bytes, level: int = 6) -> bytes:
    return gzip.compress(data, compresslevel=level, mtime=0)


@functools.lru_cache(maxsize=4)
def _runtime_gz(data: bytes) -> bytes:
    """The runtime's files are the same in every page: compressed harder, once per process."""
    return _gzip(data, level=9)


def explorer_html(block: Explorer) -> str:
    payload, runtime = block.payload, block.runtime
    index, arrays = payload.packed_arrays()
    settings = {**payload.settings, "arrays": index, "decoder": {"format": "tfjs-layers", "output": "NHWC"},
                "runtime": {"name": "TensorFlow.js", "version": runtime.version, "backend": "wasm"}}
    size = int(payload.settings["image_size"])
    markup = f"""<div class="explorer" id="{PREFIX}root" data-state="loading">
<div class="explorer-face">
<canvas id="{PREFIX}canvas" width="{size}" height="{size}" style="width: {CANVAS_CSS}px; height: {CANVAS_CSS}px"></canvas>
<div class="explorer-buttons" id="{PREFIX}buttons"></div>
<dl class="explorer-readout">
<div><dt>Start</dt><dd id="{PREFIX}start">—</dd></div>
<div><dt>Mahalanobis radius</dt><dd id="{PREFIX}radius">—</dd></div>
<div><dt>Inside the seed's ellipses</dt><dd id="{PREFIX}inside">—</dd></div>
<div><dt>Decoding</dt><dd id="{PREFIX}timing">—</dd></div>
</dl>
<p class="explorer-status" id="{PREFIX}status">Loading the decoder…</p>
</div>
<div class="explorer-controls">
<h4>Radius from the centre</h4><div id="{PREFIX}radius-control"></div>
<h4>Leading PCA components</h4><div id="{PREFIX}pca"></div>
<h4>Attribute directions</h4><div id="{PREFIX}attributes"></div>
</div>
</div>
<noscript><p class="warning">The explorer needs JavaScript.</p></noscript>"""
    return "\n".join([
        markup,
        _json_script("settings", settings),
        _binary_script("arrays", _gzip(arrays)),
        _json_script("decoder", payload.decoder.artifacts()),
        _binary_script("decoder-weights", _gzip(payload.decoder.weight_data)),
        _binary_script("tfjs", _runtime_gz(runtime.script)),
        _binary_script("tfjs-wasm", _runtime_gz(runtime.wasm)),
        _inline_script(SCRIPT.read_text(encoding="utf-8")),
    ])
