"""The report as plain data: sections made of blocks, rendered to HTML by :mod:`aegen.report.html`.

Every string in a block is plain text (it may come from the run's files); only the
renderer turns it into HTML, escaping it on the way, so no builder can inject markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union


@dataclass
class Text:
    """A paragraph. ``code`` spans are written between backticks: `aegen analyze RUN`."""

    text: str
    kind: str = "p"  # "p", "note" (muted), "warning" or "answer" (a highlighted conclusion)


@dataclass
class Figure:
    """One image from the run (``path``) or one made for the report (``path`` inside the report).

    ``pixel_art``: a grid of decoded faces, drawn without smoothing.
    """

    path: Path
    caption: str
    title: str = ""
    pixel_art: bool = False


# Card width (CSS pixels) that puts two figures side by side on a laptop screen.
FIGURE_CARD = 560


@dataclass
class Gallery:
    """Figures side by side in cards of at least ``min_width`` CSS pixels."""

    figures: list[Figure]
    min_width: int = 320


@dataclass
class Table:
    """``rows``: lists of cell texts; rows whose index is in ``highlight`` are marked.

    ``numeric``: column indices aligned right. ``caption`` says what the table holds.
    """

    headers: list[str]
    rows: list[list[str]]
    caption: str = ""
    highlight: set[int] = field(default_factory=set)
    numeric: set[int] = field(default_factory=set)
    row_notes: dict[int, str] = field(default_factory=dict)  # tooltip per row


@dataclass
class Items:
    """A bulleted list of texts (backticks mark code, as in :class:`Text`)."""

    items: list[str]


@dataclass
class Code:
    """Preformatted text such as shell commands."""

    text: str
    caption: str = ""


@dataclass
class Details:
    """A collapsible part: ``summary`` always shown, ``blocks`` on demand."""

    summary: str
    blocks: list["Block"]
    open: bool = False


@dataclass
class Columns:
    """Blocks placed side by side (such as small tables), wrapping on narrow screens."""

    blocks: list["Block"]


@dataclass
class Heading:
    """A sub-heading inside a section."""

    text: str


@dataclass
class Explorer:
    """The live latent explorer: its data (an :class:`aegen.report.explorer.ExplorerPayload`) and the
    browser runtime that decodes in the page (an :class:`aegen.report.browser_runtime.BrowserRuntime`)."""

    payload: Any
    runtime: Any


Block = Union[Text, Figure, Gallery, Table, Items, Code, Details, Columns, Heading, Explorer]


@dataclass
class Section:
    """One part of the page. A section whose step was not run has no blocks and a ``hint``
    naming the command that would fill it."""

    anchor: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    hint: str = ""
    lead: str = ""  # one sentence under the title saying what the section answers

    @property
    def omitted(self) -> bool:
        return not self.blocks


def key_value_table(pairs: list[tuple[str, str]], title: str, caption: str = "") -> Table:
    """A two-column table (``title``, value) of already formatted values."""
    return Table(headers=[title, ""], rows=[[k, v] for k, v in pairs], caption=caption)
