"""Sampling on a run folder: fit (cached) on the training z-points, sample, decode, write.

The samplers of :mod:`aegen.samplers` are plain estimators on (N, d) arrays; this module
puts them to work on a run. ``RUN/samplers/<method>-<hash>/`` caches fitted samplers; the
hash covers the method, its fit parameters, the attribute condition and the size and
modification time of the z-point file, so a re-encoded run is refitted.
``RUN/samples/<name>/`` receives ``z.npy``, ``grid.png`` (the first 64 decoded faces),
``params.json`` and the figures of :mod:`aegen.sample_figures`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from aegen import AegenError, __version__
from aegen.conditions import condition_name, run_condition, select_rows
from aegen.config import option
from aegen.io import save_npy, write_json
from aegen.params import format_params, parse_params, parse_value
from aegen.plots import save_image_grid
from aegen.run import MIRRORED, open_run
from aegen.samplers.base import BaseSampler, load_sampler
from aegen.samplers.ellipse_pca import EllipsePCASampler
from aegen.samplers.ellipsoid import EllipsoidSampler
from aegen.samplers.learned import LearnedSampler
from aegen.samplers.registry import SAMPLERS, make_sampler

GRID_FACES = 64
# Parameters that change how fast a sampler runs, not what it learns.
_NOT_IN_CACHE_KEY = {"n_jobs", "backend"}


def _unfitted_params(sampler: BaseSampler) -> set[str]:
    """Parameters the fit does not depend on: speed knobs, and those a sampler reads only when
    sampling (its ``sample_params``, e.g. a learned prior's temperature), so one fit serves all."""
    return _NOT_IN_CACHE_KEY | set(type(sampler).sample_params)

# The run-level parameter that picks the z-points a sampler is fitted on; every other
# parameter goes to the sampler. "train+mirrored" adds the training faces flipped left to
# right (aegen encode --mirrored): twice the points, all of them faces.
FIT_ON = "fit_on"
FIT_ON_CHOICES = ("train", "train+mirrored")


# Methods that share the seed's fit (a PCA of the z-points within fit_sigma and FWHM widths).
SEED_FAMILY = ("ellipse-pca", "ellipse-original", "ellipsoid")
METHOD_OPTIONS = "method options (each applies to the methods named in its error)"


def method_option(flag: str, help: str, methods: tuple[str, ...], **kwargs) -> dict:
    """A sampler parameter given by a flag of its own; ``methods``: the samplers that take it."""
    return option(flag, help, group=METHOD_OPTIONS, methods=methods, **kwargs)


@dataclass(frozen=True)
class SampleConfig:
    """What ``aegen sample`` takes, each field an option; checked here, the sampler's parameters by
    the sampler itself (:meth:`~aegen.samplers.base.BaseSampler.check_params`).

    The method options are shortcuts for sampler parameters, each for the methods it names;
    ``params`` holds any parameter (``--param KEY=VALUE``, the text read by
    :func:`aegen.params.parse_params`) and wins over a shortcut. :meth:`sampler_params` merges them.
    """

    method: str = field(metadata=option("--method", "sampling method", choices=lambda: list(SAMPLERS),
                                        required=True))
    n: int = field(default=64, metadata=option("--n", "number of z-vectors"))
    seed: int = field(default=0, metadata=option("--seed", "random seed of the sampling"))
    batch_size: int = field(default=256, metadata=option("--batch-size", "decoder batch size"))
    n_components: int | str | None = field(default=None, metadata=method_option(
        "--n-components", "PCA components used (default 100, at most the z dimension); "
                          "gmm: mixture components (default 10), or 'auto' (BIC)",
        ("ellipse-pca", "ellipsoid", "gmm"), parse=parse_value))
    fact: float | None = field(default=None, metadata=method_option(
        "--fact", "fraction of the half-width, in (0, 1] (default 0.7)", SEED_FAMILY))
    bin_width: float | str | None = field(default=None, metadata=method_option(
        "--bin-width", "histogram bins for the FWHM: 'per-component' (default: each component's own spread), 'seed' "
                       "(the seed's one bin from the widest component) or a number", SEED_FAMILY, parse=parse_value))
    width: str | None = field(default=None, metadata=method_option(
        "--width", "half-width from the histogram 'fwhm' or from 'std' (2.3548 std)", SEED_FAMILY))
    fit_sigma: float | None = field(default=None, metadata=method_option(
        "--fit-sigma", "fit on z-points within this sigma level (default 3)", SEED_FAMILY))
    max_fit_points: int | None = field(default=None, metadata=method_option(
        "--max-fit-points", "fit on at most this many z-points", (*SEED_FAMILY, "gmm")))
    b: float | None = field(default=None, metadata=method_option(
        "--b", "half-range of the uniform box (default 1.5)", ("uniform",)))
    bounds: str | None = field(default=None, metadata=method_option(
        "--range", "'fixed' ([-b, b]) or 'observed' (each component's range)", ("uniform",)))
    sigma: float | None = field(default=None, metadata=method_option(
        "--sigma", "sigma level of the core ellipsoid (default 2)", ("truncated-gaussian",)))
    k: int | str | None = field(default=None, metadata=method_option(
        "--k", "deprecated: the earlier name of --n-components", ("gmm",), parse=parse_value))
    params: dict = field(default_factory=dict, metadata=option(
        "--param", "any sampler parameter (repeatable), e.g. --param reg_covar=1e-5; also fit_on=train+mirrored "
                   "to fit on the training faces and their mirror images (after aegen encode --mirrored)",
        metavar="KEY=VALUE", repeat=True, parse=str, spell=format_params))
    where: str | None = field(default=None, metadata=option(
        "--where", "fit only on training z-points with these attributes, e.g. Smiling=1,Male=-1 "
                   "(values 1 or -1; also 0, true, false)", metavar="ATTR=1,ATTR=-1"))
    out_name: str | None = field(default=None, metadata=option(
        "--out-name", "name of the folder under RUN/samples/ (default: the method)"))
    save_images: bool = field(default=False, metadata=option(
        "--save-images", "also decode all N faces into images.npy"))
    figures: bool = field(default=True, metadata=option("--no-figures", "skip the figures"))

    def __post_init__(self):
        for name in ("n", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {value!r}")
        for f in fields(self):
            methods = f.metadata.get("methods")
            if methods and getattr(self, f.name) is not None and self.method not in methods:
                raise ValueError(f"{f.metadata['flag']} applies to {', '.join(methods)}, not to {self.method}")
        if not isinstance(self.params, dict):
            object.__setattr__(self, "params", parse_params(self.params))

    def sampler_params(self) -> dict:
        """The sampler's parameters: the method options given, then ``params`` (which win)."""
        given = {f.name: getattr(self, f.name) for f in fields(self)
                 if f.metadata.get("methods") and getattr(self, f.name) is not None}
        return {**given, **self.params}

    def keywords(self) -> dict:
        """The keywords of :func:`sample_run` after the run."""
        return {"method": self.method, "n": self.n, "seed": self.seed, "params": self.sampler_params(),
                "where": self.where, "figures": self.figures, "out_name": self.out_name,
                "batch_size": self.batch_size, "save_images": self.save_images}

    @classmethod
    def from_record(cls, record: dict, folder_name: str) -> "SampleConfig":
        """The config of the samples in ``RUN/samples/<folder_name>/`` as their params.json records them.

        The sampler's parameters come as ``params`` (every one, so the command means the same when
        a default changes), with ``fit_on`` when the fit used more than the training z-points;
        what an older record lacks (``batch_size``, ``figures``, ``save_images``) is read from its
        files or takes its default.
        """
        method = str(record.get("method") or folder_name)
        params = dict(record.get("params") or {})
        fit_on = (record.get("fit") or {}).get(FIT_ON, "train")
        if fit_on != "train":
            params[FIT_ON] = fit_on
        files = record.get("files") or []
        figures = record.get("figures", not files or any(f.endswith(".png") and f != "grid.png" for f in files))
        settings = {"n": record.get("n"), "seed": record.get("seed"), "batch_size": record.get("batch_size"),
                    "where": condition_name(record["where"]) if record.get("where") else None,
                    "out_name": folder_name if folder_name != method else None,
                    "save_images": record.get("save_images", "images.npy" in files), "figures": figures}
        return cls(method=method, params=params, **{k: v for k, v in settings.items() if v is not None})


def condition_suffix(condition: dict[str, int]) -> str:
    """Folder-name suffix for a condition: {"Smiling": 1, "Male": -1} -> "Smiling+Male-"."""
    return "".join(f"{name}{'+' if value > 0 else '-'}" for name, value in condition.items())


def cache_key(method: str, params: dict, condition: dict, zpoints_file: Path,
              mirrored_file: Path | None = None, unfitted: set[str] = _NOT_IN_CACHE_KEY) -> str:
    """Short hash of everything a fitted sampler depends on (``mirrored_file`` when fitted on it
    too); ``unfitted`` names the parameters left out."""
    stat = zpoints_file.stat()
    payload = {
        "method": method,
        "params": {k: v for k, v in params.items() if k not in unfitted},
        "where": condition,
        "zpoints": [stat.st_size, stat.st_mtime_ns],
    }
    if mirrored_file is not None:  # absent otherwise, so the keys of existing caches do not change
        mirrored = mirrored_file.stat()
        payload["mirrored"] = [mirrored.st_size, mirrored.st_mtime_ns]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def split_fit_on(params: dict | None) -> tuple[str, dict]:
    """(``fit_on``, the sampler's own parameters) of ``params``; ValueError for an unknown ``fit_on``."""
    params = dict(params or {})
    fit_on = params.pop(FIT_ON, "train")
    if fit_on not in FIT_ON_CHOICES:
        raise ValueError(f"{FIT_ON} must be one of {', '.join(FIT_ON_CHOICES)}, got {fit_on!r}")
    return fit_on, params


def training_zpoints(run, condition: dict[str, int], fit_on: str = "train") -> tuple[np.ndarray, np.ndarray | None]:
    """The z-points a sampler is fitted on: (Z (N, d), groups (N,) or None).

    The training z-points that meet ``condition`` (all for {}); with ``fit_on``
    "train+mirrored" also those of the same faces flipped left to right, and then ``groups``
    numbers each face so that a face and its mirror image stay on one side of a validation split.
    """
    Z = run.zpoints("train")
    mirrored = run.mirrored_zpoints() if fit_on == "train+mirrored" else None
    if condition:
        rows = select_rows(run.zpoint_meta("train"), condition)
        Z = np.asarray(Z[rows])
        mirrored = None if mirrored is None else np.asarray(mirrored[rows])
    if mirrored is None:
        return Z, None
    return np.concatenate([np.asarray(Z), np.asarray(mirrored)]), np.tile(np.arange(len(Z)), 2)


def default_axes(sampler: BaseSampler, params: dict, z_dim: int) -> BaseSampler:
    """``sampler`` with at most ``z_dim`` PCA axes when ``params`` leave its ``n_components`` at the default.

    The default of the PCA-frame samplers (ellipse-pca, ellipsoid) is the seed's 100 axes of 256;
    a run with a smaller z (``--preset samplable``: 64) uses every axis instead of failing on a
    value nobody gave. A value that is given is kept, and refused at fit when it exceeds z.
    """
    if (isinstance(sampler, (EllipsePCASampler, EllipsoidSampler)) and "n_components" not in params
            and sampler.n_components > z_dim):
        sampler.set_params(n_components=z_dim)
    return sampler


def fitted_sampler(run, method: str, params: dict | None = None, where=None,
                   progress: bool = True) -> tuple[BaseSampler, dict]:
    """The sampler of ``method`` fitted on ``run``'s training z-points (those matching ``where``).

    ``params`` go to the sampler (the PCA-frame samplers' default axes capped at the run's
    z dimension, :func:`default_axes`), except ``fit_on`` (:data:`FIT_ON_CHOICES`): "train" (the
    default) or "train+mirrored", which fits on the training z-points and those of the same
    faces flipped left to right (``aegen encode --mirrored``). Loads the sampler from the cache
    when present; returns (sampler, info) where info records the cache folder, whether it was
    a cache hit, the condition, ``fit_on`` and the number of fit points.
    """
    run = open_run(run)
    condition = run_condition(run, where)
    fit_on, params = split_fit_on(params)
    sampler = default_axes(make_sampler(method, **params).check_params(), params, run.z_dim)
    mirrored_file = None
    if fit_on == "train+mirrored":
        run.mirrored_zpoints()  # AegenError now when `aegen encode --mirrored` has not written them
        mirrored_file = run.path / "zpoints" / f"{MIRRORED}.npy"
    unfitted = _unfitted_params(sampler)
    key = cache_key(method, sampler.get_params(), condition, run.path / "zpoints" / "train.npy", mirrored_file,
                    unfitted)
    folder = run.path / "samplers" / f"{method}-{key}"
    info = {"cache": str(folder.relative_to(run.path)), "where": condition or None, FIT_ON: fit_on}
    if (folder / "params.json").exists():
        try:
            cached = load_sampler(folder)
            if type(cached) is not type(sampler):
                raise AegenError(f"it holds a {type(cached).__name__}")
            # The speed and sampling-only parameters of this call, checked already (check_params).
            cached.set_params(**{name: value for name, value in sampler.get_params().items() if name in unfitted})
            info.update(cache_hit=True, fit_seconds=0.0, n_zpoints=cached.fit_info_.get("n_points"))
            return cached, info
        except AegenError as exc:
            print(f"aegen sample: refitting: cached sampler unusable ({exc})", file=sys.stderr)
    Z, groups = training_zpoints(run, condition, fit_on)
    fit_kwargs = {"groups": groups} if groups is not None and isinstance(sampler, LearnedSampler) else {}
    if progress:
        print(f"fitting {method} on {Z.shape[0]:,} z-points (cached in {info['cache']})", file=sys.stderr, flush=True)
    start = time.perf_counter()
    sampler.fit(Z, **fit_kwargs)
    info.update(cache_hit=False, fit_seconds=round(time.perf_counter() - start, 3), n_zpoints=int(Z.shape[0]))
    sampler.save(folder)
    return sampler, info


def sample_run(run, method: str, n: int, seed: int, params: dict | None = None, where=None,
               figures: bool = True, out_name: str | None = None, batch_size: int = 256,
               save_images: bool = False, progress: bool = True) -> Path:
    """Fit (cached) ``method`` on ``run``'s training z-points, draw ``n`` z-vectors, write them.

    Writes RUN/samples/NAME/ (NAME = ``out_name``, or the method plus a suffix for a
    ``where`` condition): z.npy (n, d) float32, grid.png (first 64 faces, scale 2),
    params.json, the figures unless ``figures=False``, and images.npy (all n decoded faces)
    with ``save_images``. Returns the folder. Invalid parameters raise ValueError.
    """
    run = open_run(run)
    if isinstance(n, (bool, np.bool_)) or int(n) != n or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    condition = run_condition(run, where)
    sampler, info = fitted_sampler(run, method, params, condition, progress=progress)
    name = out_name or (f"{method}-{condition_suffix(condition)}" if condition else method)
    if not name or os.sep in name or name in (".", ".."):
        raise ValueError(f"invalid output name {name!r}")
    out = run.subdir(f"samples/{name}")
    timings = {"fit": info.pop("fit_seconds")}

    start = time.perf_counter()
    V = sampler.sample(int(n), random_state=seed)
    timings["sample"] = round(time.perf_counter() - start, 3)
    save_npy(out / "z.npy", V)

    start = time.perf_counter()
    faces = run.decode(V if save_images else V[:GRID_FACES], batch_size=batch_size, progress=progress)
    timings["decode"] = round(time.perf_counter() - start, 3)
    save_image_grid(out / "grid.png", faces[:GRID_FACES], ncols=8, scale=2)
    files = ["z.npy", "grid.png"]
    if save_images:
        save_npy(out / "images.npy", faces)
        files.append("images.npy")

    if figures:
        from aegen.sample_figures import save_sampler_figures

        start = time.perf_counter()
        cloud, _ = training_zpoints(run, condition)
        # Samplers that work in a PCA frame of their own (ellipse-pca, ellipsoid) are drawn in it.
        frame = (getattr(sampler, "mean_", None), getattr(sampler, "components_", None))
        if frame[1] is None or np.ndim(frame[1]) != 2:
            frame = (None, None)
        paths = save_sampler_figures(out, cloud, V, *frame, method=method, random_state=seed)
        files += [p.name for p in paths]
        timings["figures"] = round(time.perf_counter() - start, 3)

    write_json(out / "params.json", {
        "method": method,
        "params": sampler.get_params(),
        "n": int(n),
        "seed": seed,
        "where": condition or None,
        "batch_size": batch_size,
        "figures": figures,
        "save_images": save_images,
        "fit": {**info, **sampler.fit_info_},
        "sample": sampler.last_sample_info,
        "timings_s": timings,
        "files": files + ["params.json"],
        "aegen_version": __version__,
    })
    return out
