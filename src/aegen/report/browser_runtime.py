"""The vendored TensorFlow.js files that decode z-vectors inside the report's page.

The files live in ``vendor/tfjs/`` beside this module (how they are made, their version and
licences: its README.md, VENDORED.json and LICENSE; ``tools/vendor_tfjs.py`` writes them again).
:func:`load_browser_runtime` reads them and checks each against the SHA-256 recorded in
VENDORED.json, so a truncated or edited file stops the explorer with one line instead of a page
that fails in the browser.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from aegen import AegenError

VENDOR_DIR = Path(__file__).resolve().parent / "vendor" / "tfjs"
MANIFEST = "VENDORED.json"
# The scripts in the order the page runs them (each extends the global ``tf`` of the first).
SCRIPTS = ("tf-core.min.js", "tf-layers.min.js", "tf-backend-wasm.min.js")
WASM = "tfjs-backend-wasm-simd.wasm"
REVENDOR = "python tools/vendor_tfjs.py"


@dataclass(frozen=True)
class BrowserRuntime:
    """``script``: the three scripts, one after another (a classic script defining ``tf``, ``tf.wasm``);
    ``wasm``: the backend's SIMD WebAssembly module."""

    version: str
    licence: str
    script: bytes
    wasm: bytes


def load_browser_runtime(folder: Path | None = None) -> BrowserRuntime:
    """The runtime files in ``folder`` (default VENDOR_DIR), checked; AegenError (one line) when any
    is missing or altered."""
    folder = Path(folder) if folder is not None else VENDOR_DIR
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = {}
        for name in (*SCRIPTS, WASM):
            data = (folder / name).read_bytes()
            if hashlib.sha256(data).hexdigest() != manifest["files"][name]["sha256"]:
                raise AegenError(f"{folder / name} does not match the checksum in {MANIFEST} ({REVENDOR} restores it)")
            files[name] = data
        # A newline and a semicolon between the files: each ends its own statement.
        script = b"\n;\n".join(files[name] for name in SCRIPTS)
        return BrowserRuntime(version=str(manifest["version"]), licence=str(manifest["license"]),
                              script=script, wasm=files[WASM])
    except OSError as exc:
        raise AegenError(f"the browser runtime's files are missing ({exc.strerror}: {exc.filename}); "
                         f"{REVENDOR} restores them") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise AegenError(f"{folder / MANIFEST} is unreadable ({type(exc).__name__}: {exc}); {REVENDOR} restores it") from None
