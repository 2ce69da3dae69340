"""Common machinery of the samplers: parameters, input checks, seeds, save and load.

A sampler is a scikit-learn style estimator: ``__init__`` stores parameters (checked at
once), :meth:`BaseSampler.fit` learns state from an (N, d) z-point array into attributes
ending in ``_``, :meth:`BaseSampler.sample` draws (n, d) float32 z-vectors. A fitted
sampler saves to a folder holding ``params.json`` (class, parameters, fit information, the
shape of every array) and ``state.npz`` (the arrays); nothing is pickled.
"""

from __future__ import annotations

import inspect
import numbers
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from aegen import AegenError, __version__
from aegen.io import load_npz, read_json, save_npz, write_json

SAVE_FORMAT = "aegen-sampler"
SAVE_FORMAT_VERSION = 1
PARAMS_FILE = "params.json"
STATE_FILE = "state.npz"
# Rows read at a time when checking or reducing large (memory-mapped) z-point arrays.
CHUNK_ROWS = 65536


def resolve_random_state(random_state) -> tuple[np.random.Generator, int | str]:
    """A Generator for ``random_state`` and what to record about it.

    An int (or None, for which fresh OS entropy is drawn and recorded, so that the run can be
    repeated) seeds a new Generator; a Generator is used as given and recorded as such.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state, "generator"
    if random_state is None:
        random_state = int(np.random.SeedSequence().entropy % (2**63))
    if isinstance(random_state, (bool, np.bool_)) or int(random_state) != random_state or random_state < 0:
        raise ValueError(f"random_state must be a non-negative int, a Generator or None, got {random_state!r}")
    return np.random.default_rng(int(random_state)), int(random_state)


BASE_NOISE = ("random", "sobol")


def standard_normal(rng: np.random.Generator, n: int, d: int, base_noise: str = "random") -> np.ndarray:
    """(n, d) standard normal base noise: pseudo-random, or scrambled Sobol points through the normal quantile.

    Quasi-random base noise covers the normal more evenly than independent draws, so sample
    statistics such as FID vary less between seeds (Chong & Forsyth 2020). Sobol sets are
    balanced at powers of two; other n still work.
    """
    if base_noise == "random":
        return rng.standard_normal((n, d))
    if base_noise != "sobol":
        raise ValueError(f"base_noise must be one of {BASE_NOISE}, got {base_noise!r}")
    import warnings

    from scipy.stats import norm, qmc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "balance properties" at n not a power of two
        uniform = qmc.Sobol(d, scramble=True, seed=rng).random(n)
    tiny = np.finfo(float).eps
    return norm.ppf(np.clip(uniform, tiny, 1.0 - tiny))


def check_number(name: str, value, low: float = -np.inf, high: float = np.inf,
                 low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float, or ValueError unless it is a real number within the bounds."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if below or above:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value:g}")
    return value


def check_int(name: str, value, low: int = 1, high: int | None = None) -> int:
    """``value`` as an int, or ValueError unless it is an integer in [low, high]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {'in ' if high is not None else ''}{bound}, got {value}")
    return int(value)


def check_zpoints(Z, min_points: int = 1, name: str = "Z") -> np.ndarray:
    """Validate an (N, d) array of z-points; returns it as an array (memory maps stay mapped).

    Raises ValueError for a wrong shape, fewer than ``min_points`` rows, or NaN/Inf (checked
    in chunks so that large memory-mapped arrays are never copied whole).
    """
    Z = Z if isinstance(Z, np.ndarray) else np.asarray(Z, dtype=float)
    if Z.ndim != 2 or Z.shape[1] < 1:
        raise ValueError(f"{name} must have shape (N, d), got {Z.shape}")
    if not np.issubdtype(Z.dtype, np.number) or np.issubdtype(Z.dtype, np.complexfloating):
        raise ValueError(f"{name} must hold real numbers, got dtype {Z.dtype}")
    if Z.shape[0] < min_points:
        raise ValueError(f"too few points to fit: {name} has {Z.shape[0]} rows, need at least {min_points}")
    for start in range(0, Z.shape[0], CHUNK_ROWS):
        if not np.all(np.isfinite(Z[start:start + CHUNK_ROWS])):
            raise ValueError(f"{name} contains NaN or Inf")
    return Z


def mean_and_covariance(Z: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) (divisor N - 1) of Z (N, d), in float64 chunks.

    ``rows`` (optional, sorted indices) restricts the computation to those rows.
    """
    n_rows = Z.shape[0] if rows is None else rows.size
    if n_rows < 2:
        raise ValueError("need at least 2 points for a covariance")
    shift = np.asarray(Z[0 if rows is None else rows[0]], dtype=float)  # keeps the sums well conditioned
    total = np.zeros(Z.shape[1])
    cross = np.zeros((Z.shape[1], Z.shape[1]))
    for start in range(0, n_rows, CHUNK_ROWS):
        block = Z[start:start + CHUNK_ROWS] if rows is None else Z[rows[start:start + CHUNK_ROWS]]
        block = np.asarray(block, dtype=float) - shift
        total += block.sum(axis=0)
        cross += block.T @ block
    mean_shifted = total / n_rows
    cov = (cross - n_rows * np.outer(mean_shifted, mean_shifted)) / (n_rows - 1)
    return mean_shifted + shift, (cov + cov.T) / 2.0


class BaseSampler:
    """Base class: subclasses set ``method`` and implement ``_fit``, ``_sample``, ``_state_shapes``.

    ``_state_shapes(d)`` maps each fitted array attribute to its expected shape; save and
    load use it, and load refuses files whose arrays do not match it exactly.
    """

    method: ClassVar[str] = ""
    # Fewest z-points fit() accepts; subclasses raise it where their model needs more.
    min_fit_points: ClassVar[int] = 2

    # -- parameters ------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p for p in signature.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, as given (JSON-serialisable)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> "BaseSampler":
        """Change parameters (re-validated); the sampler must be fitted again afterwards."""
        unknown = set(params) - set(self._param_names())
        if unknown:
            raise ValueError(f"unknown parameter(s) for {self.method}: {', '.join(sorted(unknown))}")
        merged = {**self.get_params(), **params}
        self.__init__(**merged)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- fitting and sampling ----------------------------------------------------------
    def fit(self, Z) -> "BaseSampler":
        """Learn the sampler's state from z-points Z (N, d); returns self."""
        Z = check_zpoints(Z, self.min_fit_points)
        self.n_features_in_ = int(Z.shape[1])
        self.fit_info_ = {"n_points": int(Z.shape[0]), "d": int(Z.shape[1])}
        self._fit(Z)
        return self

    def sample(self, n: int, random_state=None) -> np.ndarray:
        """Draw n z-vectors: (n, d) float32. ``random_state``: int, Generator or None."""
        self._check_fitted()
        if isinstance(n, (bool, np.bool_)) or int(n) != n or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        rng, _ = resolve_random_state(random_state)
        return np.asarray(self._sample(int(n), rng), dtype=np.float32)

    def log_prob(self, Z) -> np.ndarray:
        """Log density (n,) of the fitted model at Z (n, d); -inf outside its support."""
        raise NotImplementedError(f"the {self.method} sampler defines no density")

    def _check_input(self, Z) -> np.ndarray:
        self._check_fitted()
        Z = check_zpoints(Z)
        if Z.shape[1] != self.n_features_in_:
            raise ValueError(f"Z has {Z.shape[1]} columns, the sampler was fitted on {self.n_features_in_}")
        return np.asarray(Z, dtype=float)

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_features_in_"):
            raise ValueError(f"this {self.method} sampler is not fitted yet: call fit(Z) first")

    # -- subclass hooks --------------------------------------------------------------
    def _fit(self, Z: np.ndarray) -> None:
        raise NotImplementedError

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _state_shapes(self, d: int) -> dict[str, tuple[int, ...]]:
        raise NotImplementedError

    # -- persistence -----------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path/params.json`` and ``path/state.npz`` (atomically); returns the folder."""
        self._check_fitted()
        path = Path(path)
        shapes = self._state_shapes(self.n_features_in_)
        arrays = {name: np.asarray(getattr(self, name), dtype=np.float64) for name in shapes}
        save_npz(path / STATE_FILE, **arrays)
        extra = self._save_extra(path)
        write_json(path / PARAMS_FILE, {
            "format": SAVE_FORMAT,
            "format_version": SAVE_FORMAT_VERSION,
            "aegen_version": __version__,
            "class": type(self).__name__,
            "method": self.method,
            "params": self.get_params(),
            "n_features_in": self.n_features_in_,
            "fit_info": self.fit_info_,
            "arrays": {name: list(shape) for name, shape in shapes.items()},
            **({"extra": extra} if extra else {}),
        })
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "BaseSampler":
        """Load a sampler saved by :meth:`save`; AegenError for anything else.

        Called on a subclass, the folder must hold that class.
        """
        from aegen.samplers.registry import SAMPLERS  # the registry imports this module

        path = Path(path)
        meta = read_json(path / PARAMS_FILE)
        if not isinstance(meta, dict) or meta.get("format") != SAVE_FORMAT:
            raise AegenError(f"{path} is not a saved aegen sampler")
        if meta.get("format_version") != SAVE_FORMAT_VERSION:
            raise AegenError(f"{path}: sampler format version {meta.get('format_version')} is not supported")
        by_class = {klass.__name__: klass for klass in SAMPLERS.values()}
        klass = by_class.get(meta.get("class"))
        if klass is None:
            raise AegenError(f"{path}: unknown sampler class {meta.get('class')!r}")
        if cls is not BaseSampler and klass is not cls:
            raise AegenError(f"{path} holds a {klass.__name__}, not a {cls.__name__}")
        try:
            sampler = klass(**meta["params"])
            d = int(meta["n_features_in"])
            sampler.n_features_in_ = d
            sampler.fit_info_ = dict(meta.get("fit_info") or {})
            sampler._restore_params_from_fit()
            expected = sampler._state_shapes(d)
        except (KeyError, TypeError, ValueError) as exc:
            raise AegenError(f"{path}: invalid sampler parameters: {exc}") from None
        arrays = load_npz(path / STATE_FILE)
        if set(arrays) != set(expected):
            raise AegenError(f"{path}: arrays {sorted(arrays)} do not match the expected {sorted(expected)}")
        for name, shape in expected.items():
            array = arrays[name]
            if array.shape != tuple(shape) or array.dtype != np.float64:
                raise AegenError(f"refusing {path}: {name} has shape {array.shape} and dtype {array.dtype}, "
                                 f"expected {tuple(shape)} float64")
            if not np.all(np.isfinite(array)):
                raise AegenError(f"refusing {path}: {name} contains NaN or Inf")
            setattr(sampler, name, array)
        sampler._load_extra(path, meta.get("extra") or {})
        sampler._after_load()
        return sampler

    def _restore_params_from_fit(self) -> None:
        """Hook: recover fit-time choices (e.g. an automatically chosen size) before shapes are checked."""

    def _after_load(self) -> None:
        """Hook: rebuild derived, unsaved attributes (e.g. Cholesky factors) after loading."""

    def _save_extra(self, path: Path) -> dict:
        """Hook: write files beyond state.npz (e.g. network weights in safetensors) into ``path``.

        Returns what params.json records about them under "extra" (nothing when empty); it is
        written last, so a folder with params.json holds complete files.
        """
        return {}

    def _load_extra(self, path: Path, extra: dict) -> None:
        """Hook: read back what :meth:`_save_extra` wrote; AegenError when it is missing or wrong."""


def load_sampler(path: str | os.PathLike) -> BaseSampler:
    """Load any saved sampler; the class is read from ``path/params.json``."""
    return BaseSampler.load(path)
