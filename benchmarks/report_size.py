"""How many bytes each part of a run's report takes: the explorer's runtime and decoder, the figures, the rest.

    python benchmarks/report_size.py REPORT_FOLDER      # a written report (aegen report RUN --out ...)

Counts the report folder's files and, inside index.html, the explorer's script elements (the
base64 of gzip of the runtime's scripts and WebAssembly, of the decoder's weights and of the data
arrays; the decoder's topology and the settings as JSON), its inline scripts (explorer.js; in a
report written before 2026-12-07 also ONNX Runtime Web's API, whose elements were the runtime's
wasm and loader and the ONNX decoder), and the images embedded as data: URIs. Prints one line a
part, in bytes as written and in MB.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ELEMENT = re.compile(r'<script type="application/(?:json|octet-stream)" id="aegen-explorer-([a-z-]+)">(.*?)</script>',
                     re.S)
INLINE = re.compile(r"<script>\n(.*?)\n</script>", re.S)
DATA_URI = re.compile(r'data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+')
LABELS = {"tfjs": "TensorFlow.js scripts (gzip, base64)", "tfjs-wasm": "TensorFlow.js wasm (gzip, base64)",
          "decoder": "decoder topology and weight manifest (JSON)", "decoder-weights": "decoder weights (gzip, base64)",
          "arrays": "explorer's arrays (gzip, base64)", "settings": "explorer's settings (JSON)"}


def breakdown(folder: Path) -> dict[str, int]:
    html = (folder / "index.html").read_text(encoding="utf-8")
    parts: dict[str, int] = {}
    elements = ELEMENT.findall(html)
    labels = LABELS if any(name == "tfjs" for name, _ in elements) else {}  # an older page: its own names
    for name, body in elements:
        parts[f"explorer {name}: {labels.get(name, '')}".rstrip(": ")] = len(body.encode())
    for k, body in enumerate(INLINE.findall(html)):
        label = "ONNX Runtime Web API (ort.wasm.min.js)" if "var ort=" in body[:2000] else \
            "explorer.js" if "aegenExplorer" in body else f"inline script {k}"
        parts[label] = parts.get(label, 0) + len(body.encode())
    parts["index.html: data: images"] = sum(len(m) for m in DATA_URI.findall(html))
    parts["index.html: everything else"] = len(html.encode()) - sum(parts.values())
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != "index.html":
            parts_of = path.relative_to(folder).parts
            key = f"files: {parts_of[0]}/*{path.suffix}" if len(parts_of) > 1 else f"files: {path.name}"
            parts[key] = parts.get(key, 0) + path.stat().st_size
    return parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="a report folder (holding index.html)")
    args = parser.parse_args(argv)
    parts = breakdown(args.report)
    total = sum(parts.values())
    for name, size in sorted(parts.items(), key=lambda item: -item[1]):
        print(f"{size:>12,} B {size / 1e6:7.2f} MB  {name}")
    print(f"{total:>12,} B {total / 1e6:7.2f} MB  total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
