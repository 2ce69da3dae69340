"""Collecting what a run folder holds into report sections, and writing RUN/report/index.html."""

from __future__ import annotations

import datetime as _dt
import os
import shlex
from pathlib import Path
from typing import Callable

import aegen
from aegen import AegenError
from aegen.config import option_argv
from aegen.io import write_text
from aegen.report.assets import Assets, CompactionCache, compaction_cache_dir
from aegen.report.blocks import Section, Text
from aegen.report.config import ReportConfig
from aegen.report.html import PageInfo, Renderer
from aegen.report.section_attributes import attributes_section
from aegen.report.section_eval import eval_section
from aegen.report.section_explorer import explorer_section
from aegen.report.section_latent import latent_section
from aegen.report.section_protocol import protocol_section
from aegen.report.section_run import run_facts, run_section
from aegen.report.section_samples import samples_section
from aegen.run import open_run

REPORT_DIR = "report"
INDEX = "index.html"

# (anchor, title, builder) in page order; each builder returns a Section, empty where its step was not run.
SECTION_BUILDERS: list[tuple[str, str, Callable]] = [
    ("run", "The run", lambda run, assets: run_section(run, assets)),
    ("latent", "Latent space", lambda run, assets: latent_section(run)),
    ("explorer", "Latent explorer", lambda run, assets: explorer_section(run)),
    ("samples", "Sampler gallery", lambda run, assets: samples_section(run)),
    ("evaluation", "Evaluation", lambda run, assets: eval_section(run)),
    ("attributes", "Attributes", lambda run, assets: attributes_section(run)),
    ("protocol", "Protocol and reproduction", lambda run, assets: protocol_section(run)),
]


def build_sections(run, assets: Assets, leave_out: tuple[str, ...] = ()) -> list[Section]:
    """Every section of the report in page order; those whose anchor is in ``leave_out`` are
    omitted, with a hint saying so.

    A file that is present but unreadable (corrupt JSON, an unexpected layout) does not stop
    the report: its section says what could not be read, and the other sections still appear.
    """
    sections = []
    for anchor, title, builder in SECTION_BUILDERS:
        if anchor in leave_out:
            flag = " (`--no-explorer`)" if anchor == "explorer" else ""
            sections.append(Section(anchor, title, hint=f"left out of this report{flag}."))
            continue
        try:
            sections.append(builder(run, assets))
        except (AegenError, KeyError, TypeError, ValueError, IndexError, AttributeError, OSError) as exc:
            sections.append(Section(anchor, title, blocks=[Text(
                f"This section could not be built from the run's files: {type(exc).__name__}: {exc}", "warning")]))
    return sections


def write_report(run_or_path, out_dir: str | os.PathLike | None = None, embed: bool = False,
                 explorer: bool = True, leave_out: tuple[str, ...] = ()) -> Path:
    """Write the run's report and return the path of its index.html.

    run_or_path: an :class:`aegen.run.Run` or a run folder. out_dir: where the report goes
    (default RUN/report/). The page is self-contained: its images are copied into
    ``out_dir/images/`` (or, with ``embed=True``, embedded as data URIs so index.html is
    the only file), and it loads nothing from elsewhere. Sections for steps that were not
    run are shown as one line naming the command that fills them. ``explorer=False`` leaves
    out the live latent explorer, whose runtime and decoder make up most of the page's size;
    ``leave_out`` names other sections (anchors of :data:`SECTION_BUILDERS`) to leave out, for a
    page about one step only.
    """
    run = open_run(run_or_path)
    out = Path(out_dir) if out_dir is not None else Path(run.path) / REPORT_DIR
    if out.exists() and not out.is_dir():
        raise AegenError(f"cannot write the report into {out}: it is a file")
    assets = Assets(out, embed=embed, source_root=Path(run.path), cache=CompactionCache(compaction_cache_dir()))
    unknown = sorted(set(leave_out) - {anchor for anchor, _, _ in SECTION_BUILDERS})
    if unknown:
        raise ValueError(f"no report section named {', '.join(unknown)}")
    sections = build_sections(run, assets, leave_out=tuple(leave_out) + (() if explorer else ("explorer",)))
    written = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    config = ReportConfig(out_dir=None if out_dir is None else str(out_dir), embed=embed, explorer=explorer)
    again = shlex.join(["aegen", "report", str(run.path), *option_argv(config)])
    info = PageInfo(title=f"aegen report: {Path(run.path).resolve().name}", facts=run_facts(run),
                    footer=f"Written {written} by aegen {aegen.__version__} from the run folder `{run.path}` "
                           f"(`{again}` writes it again).")
    page = Renderer(assets).page(info, sections)
    index = out / INDEX
    write_text(index, page)
    assets.remove_stale()
    return index
