"""``aegen sample RUN --method NAME``: generate z-vectors with a sampler and decode them."""

from __future__ import annotations

import json
import sys

from aegen import AegenError
from aegen.cli.common import add_run_arg
from aegen.params import parse_params, parse_value
from aegen.samplers.registry import SAMPLERS

# Method option flags: (flag, parameter name, type, methods it applies to, help).
# Methods that share the seed's fit (a PCA of the z-points within fit_sigma and FWHM widths).
SEED_FAMILY = ("ellipse-pca", "ellipse-original", "ellipsoid")
METHOD_OPTIONS = [
    ("--n-components", "n_components", str, ("ellipse-pca", "ellipsoid", "gmm"),
     "PCA components used (default 100); gmm: mixture components (default 10), or 'auto' (BIC)"),
    ("--fact", "fact", float, SEED_FAMILY, "fraction of the half-width, in (0, 1] (default 0.7)"),
    ("--bin-width", "bin_width", str, SEED_FAMILY,
     "histogram bins for the FWHM: 'per-component' (default: each component's own spread), 'seed' (the seed's "
     "one bin from the widest component) or a number"),
    ("--width", "width", str, SEED_FAMILY, "half-width from the histogram 'fwhm' or from 'std' (2.3548 std)"),
    ("--fit-sigma", "fit_sigma", float, SEED_FAMILY, "fit on z-points within this sigma level (default 3)"),
    ("--max-fit-points", "max_fit_points", int, (*SEED_FAMILY, "gmm"), "fit on at most this many z-points"),
    ("--b", "b", float, ("uniform",), "half-range of the uniform box (default 1.5)"),
    ("--range", "bounds", str, ("uniform",), "'fixed' ([-b, b]) or 'observed' (each component's range)"),
    ("--sigma", "sigma", float, ("truncated-gaussian",), "sigma level of the core ellipsoid (default 2)"),
    ("--k", "k", str, ("gmm",), "deprecated: the earlier name of --n-components"),
]


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "sample", help="generate z-vectors with a sampler fitted on the run's z-points, and decode them",
        description="Fit a sampler on RUN's training z-points (cached under RUN/samplers/), draw N z-vectors "
                    "and write RUN/samples/NAME/: z.npy, grid.png of the first 64 decoded faces, params.json "
                    "and figures of the vectors over the z-point cloud.")
    add_run_arg(p)
    p.add_argument("--method", required=True, choices=list(SAMPLERS), help="sampling method")
    p.add_argument("--n", type=int, default=64, help="number of z-vectors (default 64)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the sampling (default 0)")
    p.add_argument("--batch-size", type=int, default=256, help="decoder batch size (default 256)")
    group = p.add_argument_group("method options (each applies to the methods named in its error)")
    for flag, dest, kind, _, text in METHOD_OPTIONS:
        group.add_argument(flag, dest=f"opt_{dest}", type=kind, default=None, help=text)
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="any sampler parameter (repeatable), e.g. --param reg_covar=1e-5; also fit_on=train+mirrored "
                        "to fit on the training faces and their mirror images (after aegen encode --mirrored)")
    p.add_argument("--where", default=None, metavar="ATTR=1,ATTR=-1",
                   help="fit only on training z-points with these attributes, e.g. Smiling=1,Male=-1 "
                        "(values 1 or -1; also 0, true, false)")
    p.add_argument("--out-name", default=None, help="name of the folder under RUN/samples/ (default: the method)")
    p.add_argument("--save-images", action="store_true", help="also decode all N faces into images.npy")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.set_defaults(func=run)


def method_params(args) -> dict:
    """Sampler parameters from the method flags and --param KEY=VALUE (which wins)."""
    params = {}
    for flag, dest, _, methods, _ in METHOD_OPTIONS:
        value = getattr(args, f"opt_{dest}")
        if value is None:
            continue
        if args.method not in methods:
            raise AegenError(f"{flag} applies to {', '.join(methods)}, not to {args.method}")
        params[dest] = parse_value(value) if dest in ("bin_width", "k", "n_components") else value
    params.update(parse_params(args.param))
    for old, new in SAMPLERS[args.method]._renamed_params.items():
        if old in params:
            print(f"aegen sample: {old} is deprecated, it is now called {new}", file=sys.stderr)
    return params


def run(args) -> int:
    from aegen.sample import sample_run

    if args.n < 1:
        raise AegenError(f"--n must be at least 1, got {args.n}")
    if args.batch_size < 1:
        raise AegenError(f"--batch-size must be at least 1, got {args.batch_size}")
    params = method_params(args)
    out = sample_run(args.run, args.method, args.n, args.seed, params, where=args.where,
                     figures=not args.no_figures, out_name=args.out_name, batch_size=args.batch_size,
                     save_images=args.save_images)
    meta = json.loads((out / "params.json").read_text())
    fit = meta["fit"]
    source = "cached" if fit.get("cache_hit") else f"fitted in {meta['timings_s']['fit']:.1f} s"
    print(f"{args.method}: sampler {source} on {fit.get('n_zpoints')} z-points ({fit['cache']})")
    print(f"wrote {args.n} z-vectors and {', '.join(f for f in meta['files'] if f != 'z.npy')} to {out}")
    return 0
