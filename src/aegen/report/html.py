"""Rendering report blocks to one HTML page: escaped text, inline CSS, no external files.

The only scripts are the latent explorer's (:mod:`aegen.report.explorer_html`), all inline.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from aegen.report.assets import Assets
from aegen.report.blocks import (Block, Code, Columns, Details, Explorer, Figure, Gallery, Heading, Items, Section, Table,
                                 Text)
from aegen.report.explorer_html import explorer_html
from aegen.report.style import CSS


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def cls(*names: str) -> str:
    """A class attribute for the non-empty ``names`` (nothing when all are empty)."""
    joined = " ".join(n for n in names if n)
    return f' class="{esc(joined)}"' if joined else ""


def inline(text: str) -> str:
    """Escape ``text``; spans between backticks become ``<code>``."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick is shown as written
        parts = [str(text)]
    return "".join(f"<code>{esc(p)}</code>" if k % 2 else esc(p) for k, p in enumerate(parts))


@dataclass
class PageInfo:
    """What the page header shows: the title, facts about the run, and when it was written."""

    title: str
    facts: list[tuple[str, str]]
    footer: str


class Renderer:
    """Turns :mod:`aegen.report.blocks` into HTML; images go through ``assets``."""

    def __init__(self, assets: Assets):
        self.assets = assets

    def page(self, info: PageInfo, sections: list[Section]) -> str:
        nav = "".join(
            f'<li{cls("omitted" if s.omitted else "")}><a href="#{esc(s.anchor)}">{esc(s.title)}</a></li>'
            for s in sections)
        facts = "".join(f"<div><dt>{esc(k)}</dt><dd>{inline(v)}</dd></div>" for k, v in info.facts)
        body = "\n".join(self.section(s) for s in sections)
        return (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{esc(info.title)}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n"
            f"<header class=\"top\"><div class=\"wrap\"><h1>{esc(info.title)}</h1><dl class=\"facts\">{facts}</dl>"
            f"<nav aria-label=\"sections\"><ul>{nav}</ul></nav></div></header>\n"
            f"<main class=\"wrap\">\n{body}\n</main>\n"
            f"<footer class=\"wrap\">{inline(info.footer)}</footer>\n</body>\n</html>\n")

    def section(self, section: Section) -> str:
        head = f'<h2><a class="anchor" href="#{esc(section.anchor)}">{esc(section.title)}</a></h2>'
        if section.omitted:
            hint = inline(section.hint) if section.hint else "not run"
            return (f'<section id="{esc(section.anchor)}" class="omitted">{head}'
                    f'<p class="hint"><span class="badge">not run</span> {hint}</p></section>')
        lead = f'<p class="lead">{inline(section.lead)}</p>' if section.lead else ""
        blocks = "\n".join(self.block(b) for b in section.blocks)
        return f'<section id="{esc(section.anchor)}">{head}{lead}\n{blocks}\n</section>'

    def block(self, block: Block) -> str:
        if isinstance(block, Text):
            return f'<p{cls(block.kind if block.kind != "p" else "")}>{inline(block.text)}</p>'
        if isinstance(block, Heading):
            return f"<h3>{esc(block.text)}</h3>"
        if isinstance(block, Figure):
            return self.figure(block)
        if isinstance(block, Gallery):
            cards = "".join(self.figure(f, card=True) for f in block.figures)
            return f'<div class="gallery" style="--card: {int(block.min_width)}px">{cards}</div>'
        if isinstance(block, Table):
            return self.table(block)
        if isinstance(block, Items):
            return "<ul class=\"items\">" + "".join(f"<li>{inline(i)}</li>" for i in block.items) + "</ul>"
        if isinstance(block, Code):
            caption = f'<p class="caption">{inline(block.caption)}</p>' if block.caption else ""
            return f"<pre class=\"code\"><code>{esc(block.text)}</code></pre>{caption}"
        if isinstance(block, Columns):
            return '<div class="columns">' + "".join(f"<div>{self.block(b)}</div>" for b in block.blocks) + "</div>"
        if isinstance(block, Details):
            inner = "\n".join(self.block(b) for b in block.blocks)
            return (f"<details{' open' if block.open else ''}><summary>{inline(block.summary)}</summary>"
                    f'<div class="details-body">{inner}</div></details>')
        if isinstance(block, Explorer):
            return explorer_html(block)
        raise TypeError(f"not a report block: {type(block).__name__}")

    def figure(self, figure: Figure, card: bool = False) -> str:
        src = self.assets.add(figure.path)
        size = self.assets.size(src)
        dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
        alt = figure.title or figure.caption
        image = f'<img src="{esc(src)}" alt="{esc(alt)}"{dims}{cls("pixel" if figure.pixel_art else "")}>'
        if not self.assets.embed:  # a click shows the file at full size; a data URI would be stored twice
            image = f'<a href="{esc(src)}">{image}</a>'
        title = f"<b>{esc(figure.title)}.</b> " if figure.title else ""
        kind = "card" if card else "fig"
        return f'<figure class="{kind}">{image}<figcaption>{title}{inline(figure.caption)}</figcaption></figure>'

    def table(self, table: Table) -> str:
        head = "".join(f'<th{cls("num" if k in table.numeric else "")}>{esc(h)}</th>'
                       for k, h in enumerate(table.headers))
        body = []
        for r, row in enumerate(table.rows):
            cells = "".join(f'<td{cls("num" if k in table.numeric else "")}>{inline(c)}</td>'
                            for k, c in enumerate(row))
            note = table.row_notes.get(r)
            title = f' title="{esc(note)}"' if note else ""
            body.append(f'<tr{cls("highlight" if r in table.highlight else "")}{title}>{cells}</tr>')
        caption = f'<p class="caption">{inline(table.caption)}</p>' if table.caption else ""
        return (f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(body)}</tbody></table></div>{caption}')
