"""The rows an evaluation can have: sampler methods, and two reference rows.

Sampler rows draw z-vectors from a sampler of :mod:`aegen.samplers` fitted to the training
z-points. The reference rows bound every sampler: ``reconstruction`` decodes the held-out
images' own z-points (the best any sampler can reach with this decoder) and ``real`` uses
held-out images themselves, scored against training images (the floor of each metric at
this N).
"""

from __future__ import annotations

import re

from aegen import AegenError
from aegen.samplers import SAMPLERS

DEFAULT_METHODS = ("uniform", "diag-gaussian", "ellipse-pca", "gaussian", "truncated-gaussian", "gmm")
RECONSTRUCTION = "reconstruction"
REAL = "real"
REFERENCE_ROWS = (RECONSTRUCTION, REAL)


def available_methods() -> list[str]:
    """Names of the sampler methods of :mod:`aegen.samplers`."""
    return sorted(SAMPLERS)


# A row name METHOD@LABEL is a labelled variant of sampler METHOD (its own parameters), so that
# one table can set two settings of one sampler side by side, with their paired differences.
LABEL_SEPARATOR = "@"
_LABEL = re.compile(r"^[A-Za-z0-9_.+-]+$")


def sampler_of(name: str) -> str:
    """The sampler method of a row name: 'gmm@all-points' -> 'gmm'; 'gmm' -> 'gmm'."""
    return name.split(LABEL_SEPARATOR, 1)[0]


def parse_methods(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """Split 'a,b,c' (or take a list), drop duplicates keeping order, and check each name.

    Sampler names are checked against :mod:`aegen.samplers`, also in a labelled variant
    ``METHOD@LABEL`` (letters, digits and ``_.+-``); 'reconstruction' and 'real' are the
    reference rows. Raises AegenError naming the valid choices.
    """
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if not names:
        raise AegenError("no methods given")
    names = list(dict.fromkeys(names))
    for name in names:
        if LABEL_SEPARATOR in name and (sampler_of(name) in REFERENCE_ROWS
                                        or not _LABEL.match(name.split(LABEL_SEPARATOR, 1)[1])):
            raise AegenError(f"bad row name {name!r}: a labelled row is METHOD@LABEL, a sampler method and a label "
                             "of letters, digits and _.+-")
    samplers = [sampler_of(n) for n in names if n not in REFERENCE_ROWS]
    if samplers:
        known = available_methods()
        unknown = [n for n in samplers if n not in known]
        if unknown:
            raise AegenError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(known)} "
                             f"or the reference rows {', '.join(REFERENCE_ROWS)}")
    return names


def check_sampler_params(name: str, params: dict) -> None:
    """AegenError when ``params`` are not parameters of sampler ``name`` (a row name; or a bad ``fit_on``)."""
    from aegen.sample import split_fit_on
    from aegen.samplers.registry import make_sampler

    try:
        make_sampler(sampler_of(name), **split_fit_on(params)[1]).check_params()
    except (ValueError, TypeError) as exc:
        raise AegenError(f"{name} with {params}: {exc}") from None


def fit_method(run, name: str, params: dict, progress: bool = True):
    """Sampler ``name`` (a row name: METHOD or METHOD@LABEL) with ``params`` fitted to the run's training z-points.

    The fitted sampler comes from (and goes to) the run's sampler cache, RUN/samplers/, so a
    slow fit (the GMM's, a learned prior's) is paid once per run and parameter set. Invalid
    parameters (ValueError or TypeError from the sampler) become AegenError.
    """
    from aegen.sample import fitted_sampler

    try:
        sampler, _ = fitted_sampler(run, sampler_of(name), params, progress=progress)
    except (ValueError, TypeError) as exc:
        raise AegenError(f"{name} with {params or 'default parameters'}: {exc}") from None
    return sampler
