"""``aegen report RUN``: one self-contained HTML page about the run."""

from __future__ import annotations

from aegen.cli.common import add_run_arg


def add_parser(sub) -> None:
    p = sub.add_parser(
        "report", help="write one HTML page with everything the run holds",
        description="Write RUN/report/index.html: the run, the latent analysis, a live latent explorer (sliders "
                    "move a z-vector and its face is decoded in the page), the sampler gallery, the metrics, "
                    "the attribute results and the commands that reproduce them. The page needs no network; "
                    "sections for steps not yet run name the command that fills them.")
    add_run_arg(p)
    p.add_argument("--out", default=None, metavar="DIR", help="report folder (default RUN/report)")
    p.add_argument("--embed", action="store_true",
                   help="embed the images in index.html (one file to send) instead of copying them beside it")
    p.add_argument("--no-explorer", dest="explorer", action="store_false",
                   help="leave out the live latent explorer (its runtime and decoder are most of the page's size: "
                        "about 5 MB plus 1.3 times the decoder's weights)")
    p.set_defaults(func=run)


def run(args) -> int:
    from aegen.report import write_report

    index = write_report(args.run, out_dir=args.out, embed=args.embed, explorer=args.explorer)
    print(index)
    return 0
