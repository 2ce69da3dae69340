"""``aegen evaluate``: score every sampler of a run against its held-out images."""

from __future__ import annotations

import argparse

from aegen import AegenError
from aegen.cli.common import add_run_arg


def int_at_least(low: int):
    """An argparse type: an integer >= ``low``, else a one-line error."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


def bootstrap_count(text: str) -> int:
    value = int_at_least(0)(text)
    if value == 1:
        raise argparse.ArgumentTypeError("must be 0 (off) or at least 2 replicates, got 1")
    return value


positive_int = int_at_least(2)


def add_evaluation_args(p: argparse.ArgumentParser) -> None:
    """Options shared by ``evaluate`` and ``sweep``."""
    p.add_argument("--n", type=positive_int, default=200,
                   help="generated images per set, and the size of the held-out reference subset; the reconstruction "
                        "row needs another N held-out images (default 200)")
    p.add_argument("--repeats", type=int_at_least(1), default=1,
                   help="independent sample sets of N per sampler, seeds SEED, SEED+1, ... (default 1)")
    p.add_argument("--fit-seeds", type=int_at_least(1), default=1,
                   help="fit each sampler whose fit is random (GMM, flows, ...) K times, with random_state derived "
                        "from --seed, each fit drawing --repeats sets; intervals and paired differences then include "
                        "the fit-to-fit variance (use at least 3 for a headline comparison; default 1: one fit with "
                        "the sampler's own random_state)")
    p.add_argument("--bootstrap", type=bootstrap_count, default=100,
                   help="bootstrap replicates for the 95%% intervals of FID and KID and the paired differences of "
                        "rows; 0 turns the bootstrap off (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seeds the samplers and the reference subsets (default 0)")
    p.add_argument("--features", choices=["inception", "pixels"], default="inception",
                   help="inception: the standard FID Inception-v3 (needs the eval extra); pixels: 16x16 "
                        "downsampled pixels, labelled as such everywhere (default inception)")
    p.add_argument("--features-mode", choices=["fast", "exact"], default="fast",
                   help="fast: OpenVINO with the CPU's bfloat16 units (torch's bfloat16 without OpenVINO), "
                        "3.5-5x faster, features calibrated against float32 once per machine, FID within 0.15%% "
                        "of exact (measured on real images, see docs/RESULTS.md); exact: float32 torch, for "
                        "figures set beside published FIDs (default fast)")
    p.add_argument("--no-faces", dest="faces", action="store_false", help="skip the face detector")
    p.add_argument("--batch-size", type=int, default=32, help="images per Inception forward pass")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_parser(sub) -> None:
    from aegen.evaluate.protocol.methods import DEFAULT_METHODS

    p = sub.add_parser(
        "evaluate", help="measure generated faces against held-out images",
        description="For each method, decode N samples and compare them with held-out real images: FID and KID, "
                    "precision/recall, density/coverage, face-detection rate, memorisation and the latent "
                    "check, plus the reference rows 'reconstruction' and 'real'. Writes RUN/eval/metrics.json, "
                    "metrics.md, figures and sample grids.")
    add_run_arg(p)
    p.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                   help=f"comma-separated sampler methods (default {','.join(DEFAULT_METHODS)}); METHOD@LABEL "
                        "adds another row of the same sampler with its own --param settings, e.g. "
                        "--methods gmm,gmm@all --param gmm@all:max_fit_points=30000")
    p.add_argument("--param", action="append", default=[], metavar="METHOD:KEY=VALUE",
                   help="a sampler parameter of one method (repeatable), e.g. --param flow:transforms=10 "
                        "--param flow:fit_on=train+mirrored; the row is labelled with its parameters")
    p.add_argument("--no-reference-rows", dest="reference_rows", action="store_false",
                   help="leave out the 'reconstruction' and 'real' rows")
    p.add_argument("--fid-inf", default="",
                   help="comma-separated methods (or 'all') whose FID∞ is extrapolated from FID_n at several n "
                        "(Chong & Forsyth 2020), e.g. gaussian,gmm,reconstruction")
    add_evaluation_args(p)
    p.set_defaults(func=run)


def print_skipped_and_errors(result: dict) -> None:
    from aegen.evaluate.protocol.rows import as_rows
    from aegen.evaluate.tables import group_skipped

    skipped = group_skipped(result["protocol"].get("skipped", {}))
    if skipped:
        print("skipped " + "; ".join(f"{metrics} ({reason})" for metrics, reason in skipped.items()))
    for row in as_rows(result["rows"] + result.get("baselines", [])):
        if row.error:
            setting = ", ".join(f"{k}={v}" for k, v in row.params.items())
            print(f"{row.method}{f' ({setting})' if setting else ''}: error: {row.error}")


def method_params(items: list[str]) -> dict[str, dict]:
    """``["flow:transforms=10", "flow:fit_on=train+mirrored"]`` -> ``{"flow": {"transforms": 10, ...}}``."""
    from aegen.params import parse_params

    grouped: dict[str, list[str]] = {}
    for item in items:
        method, sep, assignment = item.partition(":")
        if not sep or not method.strip() or "=" not in assignment:
            raise AegenError(f"--param expects METHOD:KEY=VALUE, got {item!r}")
        grouped.setdefault(method.strip(), []).append(assignment)
    return {method: parse_params(assignments) for method, assignments in grouped.items()}


def run(args) -> int:
    from aegen.evaluate import evaluate_run

    result = evaluate_run(args.run, methods=args.methods, n=args.n, seed=args.seed, features=args.features,
                          faces=args.faces, reference_rows=args.reference_rows, repeats=args.repeats,
                          bootstrap=args.bootstrap, fid_infinity=[m for m in args.fid_inf.split(",") if m],
                          feature_mode=args.features_mode, params=method_params(args.param), fit_seeds=args.fit_seeds,
                          batch_size=args.batch_size, progress=not args.quiet)
    print_skipped_and_errors(result)
    outputs = result["outputs"]
    fits = f" x {args.fit_seeds} fits" if args.fit_seeds > 1 else ""
    print(f"evaluated {len(result['rows'])} rows at N = {args.n} x {args.repeats}{fits}: {outputs['metrics.md']} "
          f"(data {outputs['metrics.json']}, figures in {outputs['metrics.png'].rsplit('/', 1)[0]})")
    return 0
