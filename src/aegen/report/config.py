"""What ``aegen report`` takes: :class:`ReportConfig`, declared once (see :mod:`aegen.config`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aegen.config import option


@dataclass(frozen=True)
class ReportConfig:
    """The options of ``aegen report``; :func:`aegen.report.write_report` checks where it writes."""

    out_dir: str | None = field(default=None, metadata=option(
        "--out", "report folder (default RUN/report)", metavar="DIR"))
    embed: bool = field(default=False, metadata=option(
        "--embed", "embed the images in index.html (one file to send) instead of copying them beside it"))
    explorer: bool = field(default=True, metadata=option(
        "--no-explorer", "leave out the live latent explorer (its runtime and decoder are most of the page's size: "
                         "about 5 MB plus 1.3 times the decoder's weights)"))

    def keywords(self) -> dict:
        """The keywords of :func:`aegen.report.write_report` after the run."""
        return {"out_dir": self.out_dir, "embed": self.embed, "explorer": self.explorer}
