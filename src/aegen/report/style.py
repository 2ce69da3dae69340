"""The page's inline style sheet: system fonts, a readable column, tables and galleries that fit a laptop."""

CSS = """
:root {
  --ink: #1f2933; --muted: #5f6b7a; --line: #d9dee5; --soft: #f4f6f9; --accent: #2457a6;
  --mark: #fff4d6; --mark-line: #e7b94a; --warn: #fdecea; --warn-line: #d9534f; --ok: #e8f4ea;
}
* { box-sizing: border-box; }
html { scroll-behavior: smooth; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.5;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.wrap { max-width: 1320px; margin: 0 auto; padding: 0 24px; }
header.top { background: var(--soft); border-bottom: 1px solid var(--line); padding: 20px 0 0;
  position: sticky; top: 0; z-index: 2; }
header.top h1 { margin: 0 0 8px; font-size: 22px; font-weight: 650; letter-spacing: -0.01em; }
dl.facts { display: flex; flex-wrap: wrap; gap: 4px 22px; margin: 0 0 10px; font-size: 13px; }
dl.facts div { display: flex; gap: 6px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; font-weight: 550; }
nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 2px 4px; margin: 0; padding: 0 0 8px; }
nav a { display: inline-block; padding: 3px 10px; border-radius: 14px; color: var(--accent);
  text-decoration: none; font-size: 13px; font-weight: 550; }
nav a:hover { background: #e3eaf5; }
nav li.omitted a { color: #98a2ae; font-weight: 400; }
main { padding-bottom: 40px; }
section { padding: 18px 0 8px; border-bottom: 1px solid var(--line); scroll-margin-top: 120px; }
section:last-child { border-bottom: 0; }
h2 { font-size: 20px; margin: 6px 0 4px; font-weight: 650; }
h2 a.anchor { color: inherit; text-decoration: none; }
h3 { font-size: 16px; margin: 22px 0 6px; font-weight: 620; }
p { margin: 6px 0 10px; max-width: 90ch; }
p.lead { color: var(--muted); margin-top: 0; }
p.note, p.caption { color: var(--muted); font-size: 13px; }
p.caption { margin-top: 4px; }
p.answer { background: var(--ok); border-left: 4px solid #4c9a5b; padding: 8px 12px; max-width: none; }
p.warning { background: var(--warn); border-left: 4px solid var(--warn-line); padding: 8px 12px; max-width: none; }
section.omitted { padding: 10px 0 6px; }
section.omitted h2 { font-size: 16px; color: var(--muted); display: inline-block; margin-right: 10px; }
p.hint { display: inline-block; margin: 0; color: var(--muted); font-size: 14px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; background: #e6e9ee; color: var(--muted);
  font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: 0.03em; margin-right: 4px; }
code { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--soft);
  padding: 1px 4px; border-radius: 4px; }
pre.code { background: #1f2933; color: #e4e7eb; padding: 14px 16px; border-radius: 6px; overflow-x: auto;
  font: 13px/1.55 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre.code code { background: none; padding: 0; color: inherit; white-space: pre; }
figure { margin: 12px 0 18px; }
figure img { max-width: 100%; height: auto; display: block; border: 1px solid var(--line); border-radius: 4px;
  background: #fff; }
figure.fig img { margin: 0 auto; max-width: min(100%, 960px); }
img.pixel { image-rendering: pixelated; }
figcaption { font-size: 13px; color: var(--muted); margin-top: 6px; max-width: 100ch; }
figcaption b { color: var(--ink); font-weight: 620; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(var(--card, 320px), 1fr));
  gap: 16px; align-items: start; margin: 10px 0 18px; }
.gallery figure.card { margin: 0; background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
  padding: 10px; }
.gallery figure.card img { width: 100%; }
.table-wrap { overflow-x: auto; margin: 8px 0 2px; }
table { border-collapse: collapse; font-size: 13px; min-width: 40%; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 620; vertical-align: bottom; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
tbody tr:hover td { background: #f8fafc; }
tr.highlight td { background: var(--mark); font-weight: 600; }
tr.highlight td:first-child { box-shadow: inset 4px 0 0 var(--mark-line); }
tr.highlight:hover td { background: #ffefc2; }
.columns { display: flex; flex-wrap: wrap; gap: 8px 28px; align-items: flex-start; }
.columns table { min-width: 0; }
ul.items { margin: 6px 0 12px; padding-left: 22px; font-size: 14px; }
details { margin: 10px 0; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
details > summary { cursor: pointer; padding: 8px 12px; font-weight: 560; color: var(--accent); }
details[open] > summary { border-bottom: 1px solid var(--line); }
.details-body { padding: 4px 12px 8px; }
.explorer { display: flex; flex-wrap: wrap; gap: 16px 32px; align-items: flex-start; margin: 12px 0 18px;
  padding: 16px; background: var(--soft); border: 1px solid var(--line); border-radius: 6px; }
.explorer-face { flex: 0 0 auto; width: 300px; }
.explorer-face canvas { display: block; image-rendering: pixelated; border: 1px solid var(--line); background: #fff; }
.explorer-buttons { display: flex; flex-wrap: wrap; gap: 6px; margin: 10px 0; }
.explorer-buttons button { font: inherit; font-size: 13px; padding: 3px 10px; border: 1px solid var(--line);
  border-radius: 4px; background: #fff; color: var(--accent); cursor: pointer; }
.explorer-buttons button:hover { background: #e3eaf5; }
dl.explorer-readout { margin: 0; font-size: 13px; }
dl.explorer-readout div { margin-bottom: 4px; }
dl.explorer-readout dt { color: var(--muted); }
dl.explorer-readout dd { margin: 0; font-variant-numeric: tabular-nums; }
dl.explorer-readout dd.yes { color: #2f7d3f; font-weight: 600; }
dl.explorer-readout dd.no { color: var(--warn-line); font-weight: 600; }
.explorer-status { font-size: 13px; color: var(--muted); }
.explorer[data-state="failed"] .explorer-status { color: var(--warn-line); }
.explorer-controls { flex: 1 1 420px; min-width: 300px; }
.explorer-controls h4 { margin: 4px 0 4px; font-size: 13px; font-weight: 620; color: var(--muted); }
#aegen-explorer-attributes { max-height: 340px; overflow-y: auto; }
.explorer-slider { display: grid; grid-template-columns: 110px 1fr 84px; gap: 10px; align-items: center;
  font-size: 13px; }
.explorer-slider label { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.explorer-slider output { font-variant-numeric: tabular-nums; text-align: right; }
.explorer-track { position: relative; }
.explorer-track input { width: 100%; margin: 4px 0 0; }
.explorer-scale { position: relative; height: 5px; margin: 0 8px 4px; background: #e6e9ee; border-radius: 2px; }
.explorer-scale span { position: absolute; top: 0; bottom: 0; }
.explorer-scale span.outside { background: #f2b8b5; }
.explorer-scale span.band { background: #8fc79a; }
.explorer-scale span.centre { background: var(--muted); }
footer { color: var(--muted); font-size: 12px; padding: 16px 24px 32px; }
@media (max-width: 700px) { header.top { position: static; } .wrap { padding: 0 12px; } }
@media print { header.top { position: static; } details { border: 0; } }
"""
