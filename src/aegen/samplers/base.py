"""Common machinery of the samplers: parameters, input checks, seeds, save and load.

A sampler is a scikit-learn estimator (:class:`sklearn.base.BaseEstimator`: ``get_params``,
``set_params``, ``sklearn.base.clone`` and the repr come from there). ``__init__`` stores its
parameters untouched; :meth:`BaseSampler.fit` checks them (``_check_params``), learns state
from an (N, d) z-point array into attributes ending in ``_`` and returns the sampler;
:meth:`BaseSampler.sample` draws (n, d) float32 z-vectors and leaves the fitted state alone
(what it reports, such as the seed it used, goes to ``last_sample_info``). A fitted sampler
saves to a folder holding ``params.json`` (class, parameters, fit information, the shape of
every array) and ``state.npz`` (the arrays); nothing is pickled.

The z-point check and the random-state rule are :mod:`aegen.latent.checks`'s, the chunked
mean and covariance :mod:`aegen.latent.moments`'s; this module imports nothing of the
registry, so that importing any sampler module alone works.
"""

from __future__ import annotations

import numbers
import os
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from aegen import AegenError, __version__
from aegen.io import load_npz, read_json, save_npz, write_json
from aegen.latent.checks import check_zpoints, resolve_random_state

SAVE_FORMAT = "aegen-sampler"
SAVE_FORMAT_VERSION = 1
PARAMS_FILE = "params.json"
STATE_FILE = "state.npz"
# Classes that params.json may name, by class name: every BaseSampler subclass with a method.
_SAVED_CLASSES: dict[str, type["BaseSampler"]] = {}


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
    from scipy.stats import norm, qmc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "balance properties" at n not a power of two
        uniform = qmc.Sobol(d, scramble=True, seed=rng).random(n)
    tiny = np.finfo(float).eps
    return norm.ppf(np.clip(uniform, tiny, 1.0 - tiny))


def check_number(name: str, value, low: float = -np.inf, high: float = np.inf,
                 low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float, or ValueError unless it is a real number within the bounds.

    Not scikit-learn's ``check_scalar``: that one passes ``True`` and ``nan`` as numbers in [0, 1]
    (checked with scikit-learn 1.9), and a sampler parameter of either is a user's mistake.
    """
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
    """``value`` as an int, or ValueError unless it is an integer in [low, high] (``True`` is not one,
    unlike in scikit-learn's ``check_scalar``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {'in ' if high is not None else ''}{bound}, got {value}")
    return int(value)


class BaseSampler(BaseEstimator):
    """Base class: subclasses set ``method`` and implement ``_fit``, ``_sample``, ``_state_shapes``.

    Subclasses store every ``__init__`` argument untouched under its own name (no checks,
    no conversion: scikit-learn's ``clone`` and ``set_params`` rely on it) and check them in
    ``_check_params``, which :meth:`fit` and :meth:`load` call. ``_state_shapes(d)`` maps each
    fitted array attribute to its expected shape; save and load use it, and load refuses
    files whose arrays do not match it exactly.

    Renamed parameters: a subclass lists them in ``_renamed_params`` (old name -> new name)
    and takes ``**renamed`` in ``__init__``, passed to :meth:`_take_renamed`; the old name then
    still works (with a DeprecationWarning) in the constructor, ``set_params``, :meth:`from_params`
    (:func:`~aegen.samplers.registry.make_sampler`, ``--param``) and saved params.json files;
    :meth:`renamed_params` lists them.
    """

    method: ClassVar[str] = ""
    # Fewest z-points fit() accepts; subclasses raise it where their model needs more.
    min_fit_points: ClassVar[int] = 2
    # Parameters read only by sample(), never by fit (a learned prior's temperature): a run's
    # sampler cache reuses one fit for every value of them (aegen.sample).
    sample_params: ClassVar[tuple[str, ...]] = ()
    # Earlier parameter names still accepted, old name -> current name.
    _renamed_params: ClassVar[dict[str, str]] = {}
    # What the last sample() call reports (its seed, ...); None before any. Not fitted state: never saved.
    last_sample_info: dict[str, Any] | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.method:  # a concrete sampler: params.json may name it (a redefinition replaces it)
            _SAVED_CLASSES[cls.__name__] = cls

    # -- parameters ------------------------------------------------------------------
    def check_params(self) -> "BaseSampler":
        """Check the parameters now, as :meth:`fit` does first; returns self, ValueError naming the first bad one.

        For callers that want to fail early (the command line, before any work).
        """
        self._check_params()
        return self

    def _check_params(self) -> None:
        """Check the parameters; ValueError naming the first bad one. Subclasses extend it."""

    @classmethod
    def renamed_params(cls) -> dict[str, str]:
        """The earlier parameter names still accepted, old name -> current name (a copy)."""
        return dict(cls._renamed_params)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "BaseSampler":
        """A new sampler with ``params``, renamed ones also under their earlier names; checked when fitted.

        ValueError naming the parameters the sampler does not take.
        """
        names = cls._get_param_names()
        unknown = set(params) - set(names) - set(cls._renamed_params)
        if unknown:
            raise ValueError(f"unknown parameter(s) for {cls.method}: {', '.join(sorted(unknown))}; "
                             f"it takes {', '.join(names)}")
        return cls(**cls._current_names(params))

    @classmethod
    def _current_names(cls, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with renamed parameters under their current names (DeprecationWarning).

        ValueError when a parameter is given under both names.
        """
        out = dict(params)
        for old, new in cls._renamed_params.items():
            if old not in out:
                continue
            if new in out:
                raise ValueError(f"{cls.method}: give {new} only; {old} is its earlier name")
            warnings.warn(f"{cls.method}: parameter {old!r} is now called {new!r}; the old name will be removed",
                          DeprecationWarning, stacklevel=4)
            out[new] = out.pop(old)
        return out

    def _take_renamed(self, renamed: dict[str, Any]) -> None:
        """Store ``__init__``'s ``**renamed`` under the current names; TypeError for unknown names."""
        unknown = set(renamed) - set(self._renamed_params)
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword argument(s) {', '.join(sorted(unknown))}")
        for name, value in self._current_names(renamed).items():
            setattr(self, name, value)

    def set_params(self, **params) -> "BaseSampler":
        """scikit-learn's ``set_params``, also under renamed parameters' earlier names. Checked at fit."""
        return super().set_params(**self._current_names(params))

    # -- fitting and sampling ----------------------------------------------------------
    def fit(self, Z) -> "BaseSampler":
        """Check the parameters, learn the sampler's state from z-points Z (N, d); returns self."""
        self._check_params()
        Z = check_zpoints(Z, min_points=self.min_fit_points)
        self.n_features_in_ = int(Z.shape[1])
        self.fit_info_ = {"n_points": int(Z.shape[0]), "d": int(Z.shape[1])}
        self._fit(Z)
        return self

    def sample(self, n: int, random_state=None) -> np.ndarray:
        """Draw n z-vectors: (n, d) float32.

        ``random_state``: an int seed, None (a seed from fresh entropy) or a numpy Generator
        (a seed is drawn from it); see :func:`aegen.latent.checks.resolve_random_state`. The
        seed used is reported in ``last_sample_info["random_state"]``, so that any draw can be
        repeated; the fitted state is left unchanged.
        """
        self._check_fitted()
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Real) or int(n) != n or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        rng, seed = resolve_random_state(random_state)
        self.last_sample_info = {"n": int(n), "random_state": seed}
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

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "n_features_in_")

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
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
        path = Path(path)
        meta = read_json(path / PARAMS_FILE)
        if not isinstance(meta, dict) or meta.get("format") != SAVE_FORMAT:
            raise AegenError(f"{path} is not a saved aegen sampler")
        if meta.get("format_version") != SAVE_FORMAT_VERSION:
            raise AegenError(f"{path}: sampler format version {meta.get('format_version')} is not supported")
        klass = _SAVED_CLASSES.get(meta.get("class"))
        if klass is None:
            raise AegenError(f"{path}: unknown sampler class {meta.get('class')!r}")
        if cls is not BaseSampler and klass is not cls:
            raise AegenError(f"{path} holds a {klass.__name__}, not a {cls.__name__}")
        try:
            sampler = klass(**klass._current_names(meta["params"]))
            d = int(meta["n_features_in"])
            sampler.n_features_in_ = d
            sampler.fit_info_ = dict(meta.get("fit_info") or {})
            sampler._restore_params_from_fit()
            sampler._check_params()  # a hand-edited params.json must not load with bad parameters
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
