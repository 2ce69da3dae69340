"""Is Henze-Zirkler's p-value calibrated? Its rejection rate on normal data, per dimension, at the n
``aegen analyze`` uses (docs/RESULTS.md, 'What does the latent cloud look like'; the basis of ``HZ_MAX_DIM`` in aegen/latent/normality.py).

    python benchmarks/hz_calibration.py --n 5000 --draws 200 --dims 5,10,15,20,24,32,48,64 --out hz.json

For each dimension d, ``draws`` independent sets of n standard normal points (seed SEED + draw)
are tested; a calibrated test rejects at level alpha in a share alpha of them. Prints and writes
the share with its 95% Wilson interval and the quartiles of the p-values.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from aegen.evaluate.metrics.intervals import wilson_interval
from aegen.io import write_json
from aegen.latent.normality import henze_zirkler_test


def rejection_rates(n: int, dims: list[int], draws: int, alpha: float, seed: int) -> list[dict]:
    rows = []
    for d in dims:
        start = time.perf_counter()
        p = np.array([henze_zirkler_test(np.random.default_rng([seed, d, k]).normal(size=(n, d)))["p_value"]
                      for k in range(draws)])
        rejected = int(np.sum(p < alpha))
        share = wilson_interval(rejected, draws)
        rows.append({"dim": d, "n": n, "draws": draws, "alpha": alpha, "rejected": rejected,
                     "share": share.estimate, "share_low": share.low, "share_high": share.high,
                     "p_quartiles": np.percentile(p, [25, 50, 75]).round(4).tolist(),
                     "p_min": float(p.min()), "p_max": float(p.max()),
                     "seconds": round(time.perf_counter() - start, 1)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="points per test (aegen analyze's test_points, default 5000)")
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--dims", default="5,10,15,20,24,32,48,64")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    args = parser.parse_args()
    rows = rejection_rates(args.n, [int(d) for d in args.dims.split(",")], args.draws, args.alpha, args.seed)
    if args.out:
        write_json(args.out, {"command": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
