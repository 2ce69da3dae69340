"""The sample sets of a sampler row: K fits of the sampler, R sets of N vectors drawn from each.

With ``fit_seeds`` K > 1, a sampler whose fit is random (a ``random_state`` parameter) is fitted
K times with random_state ``derive_seed(seed, "fit-k")`` (each fit its own entry of the run's
sampler cache); set r of fit k is drawn with sampler seed ``seed + k * repeats + r``
(:func:`~aegen.evaluate.protocol.seeds.sampler_seed`). Decoded images' features are cached per
set, so an interrupted evaluation resumes where it stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from aegen import AegenError
from aegen.evaluate.protocol.methods import fit_method, sampler_of
from aegen.evaluate.protocol.seeds import sampler_seed
from aegen.evaluate.protocol.summary import latent_loglik


@dataclass
class SampleSets:
    """The sets of one sampler row, in the order fit 1 set 1, fit 1 set 2, ..., fit K set R."""

    Z: list[np.ndarray] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    set_fits: list[int] = field(default_factory=list)
    samplers: list = field(default_factory=list)
    states: list[int | None] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def row_fields(self, repeats: int) -> dict:
        """What the row records about its sets."""
        fitted = self.states != [None]
        return {"sampler_seeds": self.seeds, "fit_seeds": self.states if fitted else None,
                "fits": len(self.states), "repeats": repeats}


def fit_states(name: str, params: dict, fit_seeds: list[int] | None) -> list[int | None]:
    """The random_state of each fit of sampler row ``name``: [None] for one fit with the sampler's own.

    fit_seeds: the K derived fit seeds (None for one fit). [None] also for samplers with a
    deterministic fit (a refit is the same fit). AegenError when ``params`` set random_state.
    """
    if not fit_seeds:
        return [None]
    from aegen.sample import split_fit_on
    from aegen.samplers.registry import make_sampler

    if "random_state" in params:
        raise AegenError(f"{name}: --fit-seeds {len(fit_seeds)} sets each fit's random_state; "
                         "drop random_state from its parameters")
    if "random_state" not in make_sampler(sampler_of(name), **split_fit_on(params)[1]).get_params():
        return [None]
    return list(fit_seeds)


def sample_sets(references, name: str, params: dict, seed: int, repeats: int, say=print) -> SampleSets:
    """Fit sampler ``name`` (once per fit seed) and draw, decode and featurise its sets of N."""
    run, n, progress = references.run, references.n, references.progress
    start = time.perf_counter()
    sets = SampleSets(states=fit_states(name, params, references.seeds.get("fits")))
    sets.samplers = [fit_method(run, name, params if state is None else {**params, "random_state": state},
                                progress=progress) for state in sets.states]
    fitted = time.perf_counter()
    for k, (sampler, state) in enumerate(zip(sets.samplers, sets.states)):
        fit_params = params if state is None else {**params, "random_state": state}
        for r in range(repeats):
            set_seed = sampler_seed(seed, k, r, repeats)
            fit_text = f", fit {k + 1}/{len(sets.states)} (random_state {state})" if state is not None else ""
            say(f"{name}: sample set {r + 1}/{repeats} (seed {set_seed}){fit_text}")
            sets.Z.append(_sample(sampler, name, params, set_seed, n, run.z_dim))
            images = run.decode(sets.Z[-1], progress=progress)
            sets.images.append(images)
            sets.seeds.append(set_seed)
            sets.set_fits.append(k)
            if references.extractor is not None:
                sets.features.append(references.generated_features(
                    name, fit_params, set_seed,
                    lambda: references.extractor.transform(images, desc=f"features ({name})")))
    sets.seconds = {"fit": round(fitted - start, 3), "sample and decode": round(time.perf_counter() - fitted, 3)}
    return sets


def _sample(sampler, name: str, params: dict, seed: int, n: int, z_dim: int) -> np.ndarray:
    try:
        Z = np.asarray(sampler.sample(n, random_state=seed), dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise AegenError(f"{name} with {params or 'default parameters'}: {exc}") from None
    if Z.shape != (n, z_dim):
        raise AegenError(f"{name} returned shape {Z.shape}, expected {(n, z_dim)}")
    return Z


def loglik_over_fits(samplers: list, z_heldout: np.ndarray) -> tuple[dict, np.ndarray | None]:
    """Held-out latent log-likelihood, averaged over the fits (each fit's mean kept beside it);
    returns (row fields, per-point values or None)."""
    results = [latent_loglik(sampler, z_heldout) for sampler in samplers]
    summary, values = results[0]
    if len(results) > 1 and all(v is not None for _, v in results):
        per_fit = [float(v.mean()) for _, v in results]
        values = np.mean([v for _, v in results], axis=0)
        summary = {**summary, "latent_loglik": float(values.mean()), "latent_loglik_fits": per_fit,
                   "latent_loglik_se": float(values.std(ddof=1) / np.sqrt(values.size))}
    return summary, values
