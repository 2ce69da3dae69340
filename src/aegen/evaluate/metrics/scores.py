"""The scores of one generated feature set against a reference set."""

from __future__ import annotations

import numpy as np

from aegen.evaluate.metrics.distances import fidelity_diversity, single_threaded_lapack
from aegen.evaluate.metrics.intervals import GramPair

FEATURE_METRICS = ("fid", "kid", "precision", "recall", "density", "coverage")


def feature_scores(reference: np.ndarray, fake: np.ndarray, reference_gram: np.ndarray | None = None,
                   pr_k: int = 3, dc_k: int = 5) -> tuple[dict, str | None]:
    """FID, KID, precision, recall, density and coverage of one generated set, and a note on what was skipped.

    FID and KID come from the Gram blocks (:class:`~aegen.evaluate.metrics.intervals.GramPair`)
    that the bootstrap resamples for their intervals: a value and its interval are one
    computation. KID is the unbiased MMD^2 of the full sets, which involves no random choice.
    """
    with single_threaded_lapack():
        pair = GramPair(reference, fake, reference_gram)
        out = {"fid": pair.fid(), "kid": pair.kid()}
    try:
        out.update(fidelity_diversity(reference, fake, pr_k=pr_k, dc_k=dc_k))
    except ValueError as exc:
        return out, f"precision/recall/density/coverage skipped: {exc}"
    return out, None
