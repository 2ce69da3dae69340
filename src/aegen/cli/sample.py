"""``aegen sample RUN --method NAME``: generate z-vectors with a sampler and decode them."""

from __future__ import annotations

import json

from aegen import AegenError
from aegen.samplers.pipeline import sample_run  # noqa: F401  (also the Python entry point)
from aegen.samplers.registry import SAMPLERS

# Method option flags: (flag, parameter name, type, methods it applies to, help).
METHOD_OPTIONS = [
    ("--n-components", "n_components", int, ("ellipse-pca",), "PCA components used (default 100)"),
    ("--fact", "fact", float, ("ellipse-pca",), "fraction of the half-width, in (0, 1] (default 0.7)"),
    ("--bin-width", "bin_width", str, ("ellipse-pca",), "histogram bin width for the FWHM, or 'auto'"),
    ("--width", "width", str, ("ellipse-pca",), "half-width from the histogram 'fwhm' or from 'std' (2.3548 std)"),
    ("--fit-sigma", "fit_sigma", float, ("ellipse-pca",), "fit on z-points within this sigma level (default 3)"),
    ("--max-fit-points", "max_fit_points", int, ("ellipse-pca", "gmm"), "fit on at most this many z-points"),
    ("--b", "b", float, ("uniform",), "half-range of the uniform box (default 1.5)"),
    ("--range", "bounds", str, ("uniform",), "'fixed' ([-b, b]) or 'observed' (each component's range)"),
    ("--sigma", "sigma", float, ("truncated-gaussian",), "sigma level of the core ellipsoid (default 2)"),
    ("--k", "k", str, ("gmm",), "mixture components, or 'auto' (BIC)"),
]


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "sample", help="generate z-vectors with a sampler fitted on the run's z-points, and decode them",
        description="Fit a sampler on RUN's training z-points (cached under RUN/samplers/), draw N z-vectors "
                    "and write RUN/samples/NAME/: z.npy, grid.png of the first 64 decoded faces, params.json "
                    "and figures of the vectors over the z-point cloud.")
    p.add_argument("run", metavar="RUN", help="run folder (trained and encoded)")
    p.add_argument("--method", required=True, choices=list(SAMPLERS), help="sampling method")
    p.add_argument("--n", type=int, default=64, help="number of z-vectors (default 64)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the sampling (default 0)")
    p.add_argument("--batch-size", type=int, default=256, help="decoder batch size (default 256)")
    group = p.add_argument_group("method options (each applies to the methods named in its error)")
    for flag, dest, kind, _, text in METHOD_OPTIONS:
        group.add_argument(flag, dest=f"opt_{dest}", type=kind, default=None, help=text)
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="any sampler parameter (repeatable), e.g. --param reg_covar=1e-5")
    p.add_argument("--where", default=None, metavar="ATTR=1,ATTR=-1",
                   help="fit only on training z-points with these attributes, e.g. Smiling=1,Male=-1")
    p.add_argument("--out-name", default=None, help="name of the folder under RUN/samples/ (default: the method)")
    p.add_argument("--save-images", action="store_true", help="also decode all N faces into images.npy")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.set_defaults(func=run)


def method_params(args) -> dict:
    """Sampler parameters from the method flags and --param KEY=VALUE."""
    params = {}
    for flag, dest, _, methods, _ in METHOD_OPTIONS:
        value = getattr(args, f"opt_{dest}")
        if value is None:
            continue
        if args.method not in methods:
            raise AegenError(f"{flag} applies to {', '.join(methods)}, not to {args.method}")
        params[dest] = _number_or_text(value) if dest in ("bin_width", "k") else value
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise AegenError(f"--param expects KEY=VALUE, got {item!r}")
        params[key.strip().replace("-", "_")] = _parse_value(value.strip())
    return params


def run(args) -> int:
    if args.n < 1:
        raise AegenError(f"--n must be at least 1, got {args.n}")
    if args.batch_size < 1:
        raise AegenError(f"--batch-size must be at least 1, got {args.batch_size}")
    params = method_params(args)
    try:
        out = sample_run(args.run, args.method, args.n, args.seed, params, where=args.where,
                         figures=not args.no_figures, out_name=args.out_name, batch_size=args.batch_size,
                         save_images=args.save_images)
    except ValueError as exc:
        raise AegenError(str(exc)) from None
    meta = json.loads((out / "params.json").read_text())
    fit = meta["fit"]
    source = "cached" if fit.get("cache_hit") else f"fitted in {meta['timings_s']['fit']:.1f} s"
    print(f"{args.method}: sampler {source} on {fit.get('n_zpoints')} z-points ({fit['cache']})")
    print(f"wrote {args.n} z-vectors and {', '.join(f for f in meta['files'] if f != 'z.npy')} to {out}")
    return 0


def _number_or_text(value: str):
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def _parse_value(text: str):
    """JSON literal when it parses (numbers, true/false, lists), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
