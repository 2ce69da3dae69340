"""The seed's open question "why not the ellipses of the original coordinate system?".

The seed's pairwise process, run on the original latent components instead of PCA axes:
each pair (i, j) of components is constrained by its own confidence ellipse, the one of the
2-D covariance of that pair. In normalised coordinates y_k = (z_k - mean_k) / (fact a_k),
with a_k the half-width of component k and rho_ij the correlation of the pair, the ellipse
is y_i^2 - 2 rho_ij y_i y_j + y_j^2 <= 1 - rho_ij^2. With rho = 0 this is the PCA version's
u_i^2 + u_j^2 <= 1. One visit of a pair, as in the seed: a fair coin picks the fixed
component i; an unset y_i is drawn uniformly in [-1, 1] (the ellipse's extent along i);
y_j must lie in [rho y_i - h, rho y_i + h] with h = sqrt((1 - rho^2)(1 - y_i^2)) and is drawn
uniformly there if it is unset or outside.

Unlike in the PCA frame, where values only shrink and one sweep over the pairs meets every
condition, a redraw here can move y_j out of an ellipse it shared with a component visited
earlier. So the process runs as the seed says, "by an iteration": sweeps over all pairs,
each in a fresh random order, until every pair condition holds after a sweep. A vector still
failing after ``max_sweeps`` sweeps starts afresh (counted in ``fit_info_``); one that fails
``max_restarts`` times stops the sampling with a ValueError. On a synthetic 256-dimensional
cloud with median |rho| 0.17 (largest 0.78) vectors took 2.7 sweeps on average (at most 5).

Backends: ``numba`` (the compiled kernel in :mod:`aegen.samplers.ellipse_kernel`, one seed
per vector) and ``numpy`` (vectorised over blocks of vectors, much slower); "auto" picks
numba when it is installed. The two give different vectors for one seed, equally distributed.
"""

from __future__ import annotations

import numpy as np

from aegen.samplers.base import BaseSampler, check_int
from aegen.samplers.core import check_core_params, measure_widths, project_rows, sampler_core
from aegen.samplers.ellipse_process import check_backend, numba_kernel, resolve_backend

# Correlations this close to +-1 leave a pair no ellipse to sample in.
_MAX_ABS_CORRELATION = 1.0 - 1e-9
# Tolerance of the pair test for rounding.
_TOLERANCE = 1e-12
# Vectors per block of the numpy backend.
_NUMPY_BLOCK = 512


class EllipseOriginalSampler(BaseSampler):
    """The seed's pairwise ellipse process in the original latent coordinates (see the module).

    Fit (:mod:`aegen.samplers.core`): the z-points within ``fit_sigma``, at most
    ``max_fit_points``; their mean, correlations, and per component the half-width a_k
    (histogram FWHM with ``bin_width``, or 2.3548 std with ``width="std"``), corrected for the
    cut with ``core_correction``. Sample: the process in normalised coordinates y, then
    z = mean_ + fact * half_widths_ * y. Parameters are checked in :meth:`fit`.

    Fitted: ``mean_`` (d,), ``half_widths_`` (d,), ``component_stds_`` (d,), ``correlation_``
    (d, d), ``std_in_bins_`` (d,). The sweeps of the last sampling are summarised in
    ``last_sample_info["sweeps"]`` (mean, max, restarts).
    """

    method = "ellipse-original"

    def __init__(self, fact: float = 0.7, fit_sigma: float = 3.0, max_fit_points: int = 100_000,
                 bin_width: float | str = "per-component", width: str = "fwhm", core_correction: bool = True,
                 max_sweeps: int = 50, max_restarts: int = 20, random_state: int = 0, n_jobs: int = 1,
                 backend: str = "auto"):
        self.fact = fact
        self.fit_sigma = fit_sigma
        self.max_fit_points = max_fit_points
        self.bin_width = bin_width
        self.width = width
        self.core_correction = core_correction
        self.max_sweeps = max_sweeps
        self.max_restarts = max_restarts
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.backend = backend

    def _check_params(self):
        check_backend(self.backend)
        check_core_params(self)
        check_int("max_sweeps", self.max_sweeps, low=1)
        check_int("max_restarts", self.max_restarts, low=0)
        check_int("n_jobs", self.n_jobs, low=1)

    def _fit(self, Z):
        core = sampler_core(self, Z, 2)
        widths = measure_widths(project_rows(Z, core.rows, core.mean), self.bin_width, self.width, core,
                                self.method, what="component")
        stds = np.sqrt(np.diag(core.covariance))
        correlation = core.covariance / np.outer(stds, stds)
        np.fill_diagonal(correlation, 1.0)
        off = np.abs(correlation - np.eye(correlation.shape[0]))
        if off.max() > _MAX_ABS_CORRELATION:
            i, j = np.unravel_index(np.argmax(off), off.shape)
            raise ValueError(f"components {min(i, j)} and {max(i, j)} are perfectly correlated on the fit points: "
                             f"their pair has no ellipse to sample in")
        self.mean_, self.correlation_ = core.mean, correlation
        self.half_widths_, self.component_stds_ = widths.half_widths, widths.stds
        self.fit_info_.update(widths.info())
        self._after_load()

    def _after_load(self):
        ratios = self.fit_info_.get("std_in_bins")
        self.std_in_bins_ = np.asarray(ratios if ratios is not None else [np.nan] * self.mean_.size, dtype=float)

    def _sample(self, n, rng):
        self._check_params()  # max_sweeps, max_restarts and n_jobs may have been set after fit
        max_sweeps, max_restarts = int(self.max_sweeps), int(self.max_restarts)
        backend = resolve_backend(self.backend)
        if backend == "numba":
            y, sweeps = numba_kernel().original_process(n, self.correlation_, rng, max_sweeps, max_restarts,
                                                         n_jobs=int(self.n_jobs))
        else:
            y, sweeps = original_process_numpy(n, self.correlation_, rng, max_sweeps, max_restarts)
        if np.any(sweeps < 0):
            raise ValueError(f"ellipse-original: {int(np.sum(sweeps < 0))} of {n} vectors missed a pair condition "
                             f"after {max_restarts + 1} tries of {max_sweeps} sweeps; raise max_sweeps")
        self.last_sample_info.update(backend=backend, sweeps={
            "mean": float(sweeps.mean()), "max": int(sweeps.max()),
            "restarts": int(np.sum((sweeps - 1) // max_sweeps))})
        return self.from_unit(y)

    def from_unit(self, y: np.ndarray) -> np.ndarray:
        """Latent vectors (n, d) from normalised coordinates y (n, d)."""
        self._check_fitted()
        return self.mean_ + np.asarray(y, dtype=float) * (float(self.fact) * self.half_widths_)

    def to_unit(self, V) -> np.ndarray:
        """Normalised coordinates y (n, d) of latent vectors V (n, d)."""
        V = self._check_input(V)
        return (V - self.mean_) / (float(self.fact) * self.half_widths_)

    def pair_excess(self, V) -> np.ndarray:
        """Per vector of V (n, d), the largest y_i^2 - 2 rho y_i y_j + y_j^2 - (1 - rho^2) over pairs.

        <= 0 (up to rounding) when every pair condition holds.
        """
        return pair_excess(self.to_unit(V), self.correlation_)

    def log_prob(self, Z):
        raise NotImplementedError(
            "ellipse-original defines no closed-form density: its vectors come from a sequential random "
            "process; compare samples instead (e.g. with the evaluation metrics)")

    def _state_shapes(self, d):
        return {"mean_": (d,), "half_widths_": (d,), "component_stds_": (d,), "correlation_": (d, d)}


def pair_excess(y: np.ndarray, correlation: np.ndarray) -> np.ndarray:
    """max over pairs (i < j) of y_i^2 - 2 rho_ij y_i y_j + y_j^2 - (1 - rho_ij^2), per row of y (n, d)."""
    y = np.asarray(y, dtype=float)
    n, d = y.shape
    worst = np.full(n, -np.inf)
    for i in range(d - 1):
        rho = correlation[i, i + 1:]
        excess = y[:, [i]] ** 2 - 2 * rho * y[:, [i]] * y[:, i + 1:] + y[:, i + 1:] ** 2 - (1 - rho**2)
        worst = np.maximum(worst, excess.max(axis=1))
    return worst


def original_process_numpy(n: int, correlation: np.ndarray, rng: np.random.Generator, max_sweeps: int,
                           max_restarts: int, block: int = _NUMPY_BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """The numpy backend: y (n, d) and the sweeps (n,) each vector took (-1: never met its conditions).

    Blocks of ``block`` vectors use independent streams spawned from ``rng``; each step of
    the loop advances every vector of a block by one visit of its own random pair order.
    """
    d = correlation.shape[0]
    y = np.zeros((n, d))
    sweeps = np.full(n, -1, np.int64)
    if d == 1:
        y[:, 0] = rng.uniform(-1.0, 1.0, size=n)
        sweeps[:] = 1
        return y, sweeps
    pair_i, pair_j = np.triu_indices(d, k=1)
    rho = correlation[pair_i, pair_j]
    root = np.sqrt(np.clip(1.0 - rho * rho, 0.0, None))
    pairs = (pair_i, pair_j, rho, root)
    seed = np.random.SeedSequence(rng.integers(0, 2**63, size=4))
    for start, stream in zip(range(0, n, block), seed.spawn(-(-n // block))):
        rows = np.arange(start, min(n, start + block))
        gen = np.random.Generator(np.random.SFC64(stream))
        for attempt in range(max_restarts + 1):
            y[rows] = 0.0
            unset = np.ones((rows.size, d), bool)
            for sweep in range(1, max_sweeps + 1):
                _numpy_sweep(y, rows, unset, pairs, gen)
                done = pair_excess(y[rows], correlation) <= _TOLERANCE
                sweeps[rows[done]] = attempt * max_sweeps + sweep
                rows, unset = rows[~done], unset[~done]
                if rows.size == 0:
                    break
            if rows.size == 0:
                break
    return y, sweeps


def _numpy_sweep(y, rows, unset, pairs, gen) -> None:
    """One sweep for the vectors ``rows`` of y: every pair once, in a random order per vector."""
    pair_i, pair_j, rho, root = pairs
    n_pairs = pair_i.size
    order = np.tile(np.arange(n_pairs, dtype=np.int32 if n_pairs > 65535 else np.uint16), (rows.size, 1))
    order = gen.permuted(order, axis=1)
    local = np.arange(rows.size)
    values = y[rows]
    for t in range(n_pairs):
        p = order[:, t]
        coin = gen.random(rows.size) < 0.5
        i = np.where(coin, pair_j[p], pair_i[p])
        j = np.where(coin, pair_i[p], pair_j[p])
        draws = gen.random((2, rows.size))
        fresh = unset[local, i]
        yi = np.where(fresh, 2.0 * draws[0] - 1.0, values[local, i])
        values[local, i] = yi
        unset[local, i] = False
        centre = rho[p] * yi
        half = root[p] * np.sqrt(np.maximum(0.0, 1.0 - yi * yi))
        yj = values[local, j]
        redraw = unset[local, j] | (np.abs(yj - centre) > half)
        values[local, j] = np.where(redraw, centre + half * (2.0 * draws[1] - 1.0), yj)
        unset[local, j] = False
    y[rows] = values
