"""``aegen analyze``: figures and numbers on a run's z-point cloud."""

from __future__ import annotations

from aegen import AegenError
from aegen.cli.common import add_run_arg


def add_parser(sub) -> None:
    p = sub.add_parser(
        "analyze", help="analyse the z-point cloud: distributions, location, correlations, PCA, normality",
        description="Write RUN/analysis/: PNG figures and summary.json with every number.")
    add_run_arg(p)
    p.add_argument("--pairs", nargs="+", default=None, metavar="I,J",
                   help="component pairs for the 2-D figures, e.g. --pairs 0,1 3,7 "
                        "(default: 0,1 and the two most strongly correlated pairs)")
    p.add_argument("--sigma", default="1,2,3", metavar="S,S,...",
                   help="sigma levels of the confidence ellipses (default 1,2,3)")
    p.add_argument("--max-points", type=int, default=None, metavar="N",
                   help="analyse a random subsample of at most N z-points (default: all)")
    p.add_argument("--split", default="train", choices=["train", "heldout"], help="which z-points (default train)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random subsample (default 0)")
    p.add_argument("--test-points", type=int, default=5000, metavar="N",
                   help="subsample size of the Shapiro-Wilk, Mardia skewness and Henze-Zirkler tests (default 5000)")
    p.add_argument("--fwhm-bin-width", type=float, default=None, metavar="W",
                   help="histogram bin width of the FWHM measurement (default: leading PCA std / 10)")
    p.set_defaults(func=run)


def parse_pairs(texts: list[str] | None, dim: int) -> list[tuple[int, int]] | None:
    """``["0,1", "3,7"]`` -> [(0, 1), (3, 7)]; AegenError for malformed or out-of-range pairs."""
    if texts is None:
        return None
    pairs = []
    for text in texts:
        parts = text.split(",")
        try:
            i, j = (int(v) for v in parts)
        except ValueError:
            raise AegenError(f"--pairs: expected I,J (two comma-separated integers), got {text!r}") from None
        for v in (i, j):
            if not 0 <= v < dim:
                raise AegenError(f"--pairs: component {v} in {text!r} is out of range 0..{dim - 1}")
        if i == j:
            raise AegenError(f"--pairs: {text!r} names the same component twice")
        pairs.append((i, j))
    return pairs


def parse_sigmas(text: str) -> tuple[float, ...]:
    try:
        sigmas = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise AegenError(f"--sigma: expected comma-separated numbers, got {text!r}") from None
    if not sigmas or any(not s > 0 for s in sigmas) or len(sigmas) > 5:
        raise AegenError(f"--sigma: expected one to five positive numbers, got {text!r}")
    return sigmas


def run(args) -> int:
    from aegen.latent import analyze_run
    from aegen.run import Run

    run_ = Run.open(args.run)
    pairs = parse_pairs(args.pairs, run_.z_dim)
    sigmas = parse_sigmas(args.sigma)
    for name, value, low in (("--max-points", args.max_points, 1), ("--test-points", args.test_points, 3)):
        if value is not None and value < low:
            raise AegenError(f"{name} must be >= {low}, got {value}")
    if args.fwhm_bin_width is not None and not args.fwhm_bin_width > 0:
        raise AegenError(f"--fwhm-bin-width must be > 0, got {args.fwhm_bin_width}")
    summary = analyze_run(run_, split=args.split, pairs=pairs, sigmas=sigmas, max_points=args.max_points,
                          random_state=args.seed, test_points=args.test_points,
                          fwhm_bin_width=args.fwhm_bin_width)
    out = run_.path / "analysis"
    print(f"analysis of {summary['n_points']:,} {args.split} z-points (d = {summary['dim']}): {out}")
    print(f"  figures: {', '.join(summary['figures'].values())}")
    print(f"  numbers: {out / 'summary.json'}")
    for key, reason in summary["skipped"].items():
        print(f"  skipped {key}: {reason}")
    return 0
