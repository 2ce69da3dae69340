"""Baselines: the series' failed uniform trial and independent per-component normals."""

from __future__ import annotations

import numpy as np

from aegen.latent.checks import iter_chunks
from aegen.samplers.base import BaseSampler, check_number

_LOG_2PI = np.log(2.0 * np.pi)


class UniformSampler(BaseSampler):
    """Each component uniform on an interval, independently: the series' failed trial.

    bounds="fixed": every component in [-b, b] (b = 1.5 matched the typical radius of CelebA
    z-vectors best, and still missed their region). bounds="observed": each component over
    the range [min, max] it takes on the z-points.

    Fitted: ``low_`` (d,), ``high_`` (d,).
    """

    method = "uniform"
    min_fit_points = 1

    def __init__(self, b: float = 1.5, bounds: str = "fixed"):
        self.b = b
        self.bounds = bounds

    def _check_params(self):
        check_number("b", self.b, low=0.0, low_open=True)
        if self.bounds not in ("fixed", "observed"):
            raise ValueError(f"bounds must be 'fixed' or 'observed', got {self.bounds!r}")

    def _fit(self, Z):
        d = Z.shape[1]
        if self.bounds == "fixed":
            b = float(self.b)
            self.low_, self.high_ = np.full(d, -b), np.full(d, b)
            return
        low, high = np.full(d, np.inf), np.full(d, -np.inf)
        for start, stop in iter_chunks(Z.shape[0]):
            block = np.asarray(Z[start:stop], dtype=float)
            low, high = np.minimum(low, block.min(axis=0)), np.maximum(high, block.max(axis=0))
        flat = np.flatnonzero(high <= low)
        if flat.size:
            raise ValueError(f"component {flat[0]} takes a single value on the z-points: no range to sample")
        self.low_, self.high_ = low, high

    def _sample(self, n, rng):
        return rng.uniform(self.low_, self.high_, size=(n, self.low_.size))

    def log_prob(self, Z):
        """-sum(log(high - low)) inside the box, -inf outside."""
        Z = self._check_input(Z)
        inside = np.all((Z >= self.low_) & (Z <= self.high_), axis=1)
        return np.where(inside, -np.log(self.high_ - self.low_).sum(), -np.inf)

    def _state_shapes(self, d):
        return {"low_": (d,), "high_": (d,)}


class DiagGaussianSampler(BaseSampler):
    """Independent normal per component with the z-points' mean and variance.

    Ignores every correlation between components. ``reg_covar`` is added to each variance so
    that a constant component still gives a proper density.

    Fitted: ``mean_`` (d,), ``var_`` (d,).
    """

    method = "diag-gaussian"

    def __init__(self, reg_covar: float = 1e-6):
        self.reg_covar = reg_covar

    def _check_params(self):
        check_number("reg_covar", self.reg_covar, low=0.0)

    def _fit(self, Z):
        # Per-component sums only: O(N d), where the full covariance would cost O(N d^2).
        n, d = Z.shape
        shift = np.asarray(Z[0], dtype=float)
        total, squares = np.zeros(d), np.zeros(d)
        for start, stop in iter_chunks(n):
            block = np.asarray(Z[start:stop], dtype=float) - shift
            total += block.sum(axis=0)
            squares += (block * block).sum(axis=0)
        mean = total / n
        var = np.maximum(squares / n - mean * mean, 0.0) * n / (n - 1) + float(self.reg_covar)
        if np.any(var <= 0):
            raise ValueError("a component has zero variance; set reg_covar > 0")
        self.mean_, self.var_ = mean + shift, var

    def _sample(self, n, rng):
        return self.mean_ + np.sqrt(self.var_) * rng.standard_normal((n, self.mean_.size))

    def log_prob(self, Z):
        Z = self._check_input(Z)
        standardised = (Z - self.mean_) ** 2 / self.var_
        return -0.5 * (standardised.sum(axis=1) + np.log(self.var_).sum() + self.mean_.size * _LOG_2PI)

    def _state_shapes(self, d):
        return {"mean_": (d,), "var_": (d,)}
