"""The rows an evaluation can have: sampler methods, and two reference rows.

Sampler rows draw z-vectors from a sampler of :mod:`aegen.samplers` fitted to the training
z-points. The reference rows bound every sampler: ``reconstruction`` decodes the held-out
images' own z-points (the best any sampler can reach with this decoder) and ``real`` uses
held-out images themselves, scored against training images (the floor of each metric at
this N).
"""

from __future__ import annotations

import numpy as np

from aegen import AegenError

DEFAULT_METHODS = ("uniform", "diag-gaussian", "ellipse-pca", "gaussian", "truncated-gaussian", "gmm")
RECONSTRUCTION = "reconstruction"
REAL = "real"
REFERENCE_ROWS = (RECONSTRUCTION, REAL)


def _samplers_module():
    try:
        import aegen.samplers as samplers
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("aegen.samplers"):
            raise AegenError("aegen.samplers is not part of this aegen installation") from None
        raise
    return samplers


def available_methods() -> list[str]:
    """Names of the sampler methods of :mod:`aegen.samplers`."""
    return sorted(_samplers_module().SAMPLERS)


def parse_methods(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """Split 'a,b,c' (or take a list), drop duplicates keeping order, and check each name.

    Sampler names are checked against :mod:`aegen.samplers`; 'reconstruction' and 'real' are
    the reference rows. Raises AegenError naming the valid choices.
    """
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if not names:
        raise AegenError("no methods given")
    names = list(dict.fromkeys(names))
    samplers = [n for n in names if n not in REFERENCE_ROWS]
    if samplers:
        known = available_methods()
        unknown = [n for n in samplers if n not in known]
        if unknown:
            raise AegenError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(known)} "
                             f"or the reference rows {', '.join(REFERENCE_ROWS)}")
    return names


def sample_method(run, name: str, params: dict, n: int, seed: int, progress: bool = True) -> np.ndarray:
    """Fit sampler ``name`` with ``params`` to the run's training z-points; return n vectors (n, d) float32.

    With aegen's own samplers the fitted sampler comes from (and goes to) the run's sampler
    cache, RUN/samplers/, so a slow fit (the GMM's) is paid once per run and parameter set.
    Invalid parameters (ValueError or TypeError from the sampler) become AegenError.
    """
    samplers = _samplers_module()
    try:
        if getattr(samplers, "__name__", None) == "aegen.samplers":
            from aegen.samplers.pipeline import fitted_sampler

            sampler, _ = fitted_sampler(run, name, params, progress=progress)
        else:
            sampler = samplers.make_sampler(name, **params).fit(np.asarray(run.zpoints("train")))
        Z = sampler.sample(n, random_state=seed)
    except (ValueError, TypeError) as exc:
        raise AegenError(f"{name} with {params or 'default parameters'}: {exc}") from None
    Z = np.asarray(Z, dtype=np.float32)
    if Z.shape != (n, run.z_dim):
        raise AegenError(f"{name} returned shape {Z.shape}, expected {(n, run.z_dim)}")
    return Z
