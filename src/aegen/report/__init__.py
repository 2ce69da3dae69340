"""One HTML page a person reads: everything a run folder holds, with the commands that rebuild it.

``write_report(run_or_path)`` writes RUN/report/index.html and its images. The page is
self-contained (inline CSS, images beside it or embedded, the explorer's scripts and data
inline) so it opens offline. Sections: the run (data, model, training curve,
reconstructions), the latent analysis, the latent explorer (a z-vector moved with sliders and
decoded live in the page), the sampler gallery, the evaluation and sweeps, the attribute results, and the protocol
with versions, seeds and commands. A step that was not run leaves a one-line hint.
"""

from aegen.report.build import INDEX, REPORT_DIR, build_sections, write_report
from aegen.report.commands import reproduction_commands

__all__ = ["INDEX", "REPORT_DIR", "build_sections", "reproduction_commands", "write_report"]
