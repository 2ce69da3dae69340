"""The vendored ONNX Runtime Web files that decode z-vectors inside the report's page.

The files live in ``vendor/onnxruntime-web/`` beside this module (how they are made, their
version and licence: its README.md, VENDORED.json and LICENSE; ``tools/vendor_onnxruntime_web.py``
writes them again). :func:`load_browser_runtime` reads them and checks each against the
SHA-256 recorded in VENDORED.json, so a truncated or edited file stops the explorer with one
line instead of a page that fails in the browser.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from aegen import AegenError

VENDOR_DIR = Path(__file__).resolve().parent / "vendor" / "onnxruntime-web"
MANIFEST = "VENDORED.json"
SCRIPT, LOADER, WASM_GZ = "ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm.gz"
REVENDOR = "python tools/vendor_onnxruntime_web.py"


@dataclass(frozen=True)
class BrowserRuntime:
    """``script``: the JavaScript API (a classic script defining ``ort``); ``loader``: the module
    that instantiates the WebAssembly; ``wasm_gz``: the WebAssembly, gzip-compressed."""

    version: str
    licence: str
    script: str
    loader: bytes
    wasm_gz: bytes


def load_browser_runtime(folder: Path | None = None) -> BrowserRuntime:
    """The runtime files in ``folder`` (default VENDOR_DIR), checked; AegenError (one line) when any
    is missing or altered."""
    folder = Path(folder) if folder is not None else VENDOR_DIR
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = {}
        for name in (SCRIPT, LOADER, WASM_GZ):
            data = (folder / name).read_bytes()
            if hashlib.sha256(data).hexdigest() != manifest["files"][name]["sha256"]:
                raise AegenError(f"{folder / name} does not match the checksum in {MANIFEST} ({REVENDOR} restores it)")
            files[name] = data
        script = files[SCRIPT].decode("utf-8")
        if "</script" in script.lower():  # the page inlines it in a script element
            raise AegenError(f"{folder / SCRIPT} contains '</script' and cannot be inlined into a page")
        return BrowserRuntime(version=str(manifest["version"]), licence=str(manifest["license"]),
                              script=script, loader=files[LOADER], wasm_gz=files[WASM_GZ])
    except OSError as exc:
        raise AegenError(f"the browser runtime's files are missing ({exc.strerror}: {exc.filename}); "
                         f"{REVENDOR} restores them") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise AegenError(f"{folder / MANIFEST} is unreadable ({type(exc).__name__}: {exc}); {REVENDOR} restores it") from None
