"""Re-vendor the browser runtime of the report's latent explorer (TensorFlow.js) from the npm registry.

The explorer (``aegen report``) decodes z-vectors in the page with TensorFlow.js on its
WebAssembly backend. Its files travel inside the aegen package, unmodified, in
``src/aegen/report/vendor/tfjs/``, so that a report can be written without npm and opened from
disk without a network:

- ``tf-core.min.js`` (``@tensorflow/tfjs-core``): tensors, ops, model loading (defines ``tf``);
- ``tf-layers.min.js`` (``@tensorflow/tfjs-layers``): the Layers API that reads the decoder's
  Keras-style model (``tf.loadLayersModel``);
- ``tf-backend-wasm.min.js`` (``@tensorflow/tfjs-backend-wasm``): the WebAssembly backend and its
  Emscripten loader (``tf.wasm``);
- ``tfjs-backend-wasm-simd.wasm``: the backend's SIMD WebAssembly module (XNNPACK kernels), the
  one a page without cross-origin isolation runs (single-threaded).

The page gets them as base64 of gzip (:mod:`aegen.report.explorer_html`).

Usage (needs ``npm`` and the registry)::

    python tools/vendor_tfjs.py                     # the pinned VERSION
    python tools/vendor_tfjs.py --version 4.23.0

``npm pack`` checks each tarball against the registry's integrity hash; this script records
those hashes, each package's declared licence, and the SHA-256 of every vendored file in
``VENDORED.json``, which aegen checks before it puts the files into a page. The packages carry
no licence file: ``LICENSE`` in the folder (kept in git, not written here) holds the texts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "4.22.0"
TARGET = Path(__file__).resolve().parents[1] / "src" / "aegen" / "report" / "vendor" / "tfjs"
# (npm package, file in its tarball, file written here)
FILES = [
    ("@tensorflow/tfjs-core", "package/dist/tf-core.min.js", "tf-core.min.js"),
    ("@tensorflow/tfjs-layers", "package/dist/tf-layers.min.js", "tf-layers.min.js"),
    ("@tensorflow/tfjs-backend-wasm", "package/dist/tf-backend-wasm.min.js", "tf-backend-wasm.min.js"),
    ("@tensorflow/tfjs-backend-wasm", "package/dist/tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-simd.wasm"),
]


def npm_pack(package: str, version: str, folder: Path) -> tuple[Path, str]:
    """Download the package tarball with ``npm pack``; returns its path and the registry's integrity hash."""
    out = subprocess.run(["npm", "pack", f"{package}@{version}", "--json", "--pack-destination", str(folder)],
                         check=True, capture_output=True, text=True).stdout
    (info,) = json.loads(out)
    return folder / info["filename"], info["integrity"]


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=VERSION, help=f"the TensorFlow.js version (default {VERSION})")
    args = parser.parse_args(argv)
    packages, files = {}, {}
    TARGET.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for package in dict.fromkeys(package for package, _, _ in FILES):
            tarball, integrity = npm_pack(package, args.version, Path(tmp))
            with tarfile.open(tarball) as tar:
                meta = json.load(tar.extractfile("package/package.json"))
                packages[package] = {"version": meta["version"], "license": meta.get("license"),
                                     "npm_integrity": integrity}
                for owner, member, name in FILES:
                    if owner == package:
                        data = tar.extractfile(member).read()
                        write_atomically(TARGET / name, data)
                        files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                                       "package": package, "from": member}
    versions = {entry["version"] for entry in packages.values()}
    if len(versions) != 1:
        raise SystemExit(f"the packages' versions differ: {packages}")
    manifest = {"runtime": "TensorFlow.js", "version": versions.pop(),
                "license": "Apache-2.0 (tfjs-layers: Apache-2.0 AND MIT)", "packages": packages, "files": files}
    write_atomically(TARGET / "VENDORED.json", (json.dumps(manifest, indent=2) + "\n").encode())
    print(f"vendored TensorFlow.js {manifest['version']} into {TARGET}")
    for name, entry in files.items():
        print(f"  {name}: {entry['bytes']:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
