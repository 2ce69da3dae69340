"""Re-vendor the browser runtime of the report's latent explorer from the npm registry.

The explorer (``aegen report``) decodes z-vectors in the page with ONNX Runtime Web. Its
three files travel inside the aegen package, in ``src/aegen/report/vendor/onnxruntime-web/``,
so that a report can be written without npm and opened from disk without a network:

- ``ort.wasm.min.js``: the wasm-only build of the JavaScript API (defines the global ``ort``);
- ``ort-wasm-simd-threaded.mjs``: the Emscripten loader of the WebAssembly module;
- ``ort-wasm-simd-threaded.wasm.gz``: the WebAssembly module itself, gzip-compressed (the page
  inflates it with the browser's DecompressionStream; 14.8 MB raw, 3.8 MB compressed).

Usage (needs ``npm`` and the registry)::

    python tools/vendor_onnxruntime_web.py            # the pinned VERSION
    python tools/vendor_onnxruntime_web.py --version 1.32.0

``npm pack`` checks the tarball against the registry's integrity hash; this script records
that hash and the SHA-256 of every vendored file in ``VENDORED.json``, which aegen checks
before it puts the files into a page. The gzip stream is written with a zero timestamp, so
re-vendoring the same version gives the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "1.31.1"
PACKAGE = "onnxruntime-web"
TARGET = Path(__file__).resolve().parents[1] / "src" / "aegen" / "report" / "vendor" / PACKAGE
# (file in the npm package, file written here, gzip it?)
FILES = [
    ("package/dist/ort.wasm.min.js", "ort.wasm.min.js", False),
    ("package/dist/ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.mjs", False),
    ("package/dist/ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.wasm.gz", True),
]
LICENSE_NOTE = "package.json declares the MIT licence; LICENSE here is the onnxruntime repository's."


def npm_pack(version: str, folder: Path) -> tuple[Path, str]:
    """Download the package tarball with ``npm pack``; returns its path and the registry's integrity hash."""
    out = subprocess.run(["npm", "pack", f"{PACKAGE}@{version}", "--json", "--pack-destination", str(folder)],
                         check=True, capture_output=True, text=True).stdout
    (info,) = json.loads(out)
    return folder / info["filename"], info["integrity"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=VERSION, help=f"the {PACKAGE} version (default {VERSION})")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tarball, integrity = npm_pack(args.version, Path(tmp))
        files = {}
        with tarfile.open(tarball) as tar:
            meta = json.load(tar.extractfile("package/package.json"))
            for member, name, compress in FILES:
                data = tar.extractfile(member).read()
                if compress:
                    data = gzip.compress(data, compresslevel=9, mtime=0)
                TARGET.mkdir(parents=True, exist_ok=True)
                (TARGET / name).write_bytes(data)
                files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "from": member}
    manifest = {"package": PACKAGE, "version": meta["version"], "license": meta.get("license"),
                "license_note": LICENSE_NOTE, "npm_integrity": integrity, "files": files}
    (TARGET / "VENDORED.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"vendored {PACKAGE} {meta['version']} into {TARGET}")
    for name, entry in files.items():
        print(f"  {name}: {entry['bytes']:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
