"""What ``aegen evaluate`` and ``aegen sweep`` take: :class:`EvaluateConfig` and :class:`SweepConfig`, declared once.

Both extend :class:`EvaluationOptions`, the settings every evaluation has (N, repeats, fits,
bootstrap, seed, features, faces, batch size). Each field is an option (:func:`aegen.config.option`):
from that one declaration come the commands' parsers, the keywords of :func:`evaluate_run` and
:func:`sweep_run`, and the report's reproduction commands (``from_record`` reads a config back
from the metrics.json each writes). The counts are checked by the evaluation's own rules
(:func:`~aegen.evaluate.protocol.references.check_settings`); the command line's one-line
errors for them (exit 2) take their least values from the same table.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from aegen.config import option
from aegen.evaluate.features.backends import MODES
from aegen.evaluate.features.extractors import FEATURE_KINDS
from aegen.evaluate.protocol.methods import DEFAULT_METHODS, REFERENCE_ROWS
from aegen.evaluate.protocol.record import EvalProtocol
from aegen.evaluate.protocol.references import SETTING_MINIMUM, check_settings
from aegen.params import format_params, format_value, parse_params

EVALUATION_GROUP = "evaluation options (the same for aegen evaluate and aegen sweep)"


def count_option(name: str):
    """An argparse type for the count ``name`` of :data:`SETTING_MINIMUM`: an integer at least its least
    value (``bootstrap``: 0, or 2 and more), else a one-line error."""
    low = SETTING_MINIMUM[name]

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if name == "bootstrap" and value == 1:
            raise argparse.ArgumentTypeError("must be 0 (off) or at least 2 replicates, got 1")
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


def shared(flag: str, help: str, **kwargs) -> dict:
    """An option of every evaluation, listed in its own help section."""
    return option(flag, help, group=EVALUATION_GROUP, **kwargs)


def method_params(items) -> dict[str, dict]:
    """``["flow:transforms=10", "flow:fit_on=train+mirrored"]`` -> ``{"flow": {"transforms": 10, ...}}``."""
    grouped: dict[str, list[str]] = {}
    for item in items:
        method, sep, assignment = str(item).partition(":")
        if not sep or not method.strip() or "=" not in assignment:
            raise ValueError(f"--param expects METHOD:KEY=VALUE, got {item!r}")
        grouped.setdefault(method.strip(), []).append(assignment)
    return {method: parse_params(assignments) for method, assignments in grouped.items()}


def spell_method_params(params: dict[str, dict]) -> list[str]:
    """``{"flow": {"transforms": 10}}`` -> ``["flow:transforms=10"]``: the texts :func:`method_params` reads back."""
    return [f"{method}:{item}" for method, given in params.items() for item in format_params(given)]


def names(text: str | None) -> list[str]:
    """'a,b,,c' -> ['a', 'b', 'c']."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


@dataclass(frozen=True, kw_only=True)
class EvaluationOptions:
    """The settings of every evaluation; the counts and the seed are checked here, by
    :func:`~aegen.evaluate.protocol.references.check_settings` (the rules the evaluator applies)."""

    n: int = field(default=200, metadata=shared(
        "--n", "generated images per set, and the size of the held-out reference subset; the reconstruction "
               "row needs another N held-out images", parse=count_option("n")))
    repeats: int = field(default=1, metadata=shared(
        "--repeats", "independent sample sets of N per sampler, seeds SEED, SEED+1, ...", parse=count_option("repeats")))
    fit_seeds: int = field(default=1, metadata=shared(
        "--fit-seeds", "fit each sampler whose fit is random (GMM, flows, ...) K times, with random_state derived "
                       "from --seed, each fit drawing --repeats sets; intervals and paired differences then include "
                       "the fit-to-fit variance (use at least 3 for a headline comparison; 1: one fit with the "
                       "sampler's own random_state)", metavar="K", parse=count_option("fit_seeds")))
    bootstrap: int = field(default=100, metadata=shared(
        "--bootstrap", "bootstrap replicates for the 95%% intervals of FID and KID and the paired differences of "
                       "rows; 0 turns the bootstrap off", parse=count_option("bootstrap")))
    seed: int = field(default=0, metadata=shared("--seed", "seeds the samplers and the reference subsets"))
    features: str = field(default="inception", metadata=shared(
        "--features", "inception: the standard FID Inception-v3 (needs the eval extra); pixels: 16x16 downsampled "
                      "pixels, labelled as such everywhere", choices=FEATURE_KINDS))
    feature_mode: str = field(default="fast", metadata=shared(
        "--features-mode", "fast: OpenVINO with the CPU's bfloat16 units (torch's bfloat16 without OpenVINO), "
                           "3.5-5x faster, features calibrated against float32 once per machine, FID within 0.15%% "
                           "of exact (measured on real images, see docs/RESULTS.md); exact: float32 torch, for "
                           "figures set beside published FIDs", choices=MODES))
    faces: bool = field(default=True, metadata=shared("--no-faces", "skip the face detector"))
    batch_size: int = field(default=32, metadata=shared("--batch-size", "images per Inception forward pass"))
    quiet: bool = field(default=False, metadata=shared("--quiet", "no progress bars"))
    figures: bool = field(default=True, metadata=shared(
        "--no-figures", "write the numbers only (metrics.json and the table): no figures and no sample grids, and "
                        "those of an earlier evaluation in the folder removed (a batch of evaluations runs faster)"))

    def __post_init__(self):
        check_settings(n=self.n, seed=self.seed, repeats=self.repeats, bootstrap=self.bootstrap,
                       batch_size=self.batch_size, fit_seeds=self.fit_seeds)

    def evaluation_keywords(self) -> dict:
        """The keywords :func:`evaluate_run` and :func:`sweep_run` share."""
        return {"n": self.n, "seed": self.seed, "features": self.features, "faces": self.faces,
                "repeats": self.repeats, "bootstrap": self.bootstrap, "fit_seeds": self.fit_seeds,
                "feature_mode": self.feature_mode, "batch_size": self.batch_size, "progress": not self.quiet,
                "figures": self.figures}

    @staticmethod
    def recorded_settings(protocol: EvalProtocol) -> dict:
        """The settings a metrics.json's ``protocol`` records, by field name; what an older one lacks is left
        out (its default: an older evaluation had one fit and no choice of features mode)."""
        features = protocol.features if isinstance(protocol.features, dict) else {}
        skipped = protocol.skipped if isinstance(protocol.skipped, dict) else {}
        settings = {name: getattr(protocol, name) for name in ("n", "seed", "repeats", "fit_seeds", "bootstrap",
                                                               "batch_size")}
        if features.get("id"):
            settings["features"] = "pixels" if str(features["id"]).startswith("pixels") else "inception"
        if features.get("mode") in MODES:
            settings["feature_mode"] = features["mode"]
        if skipped.get("face_rate") == "face detection turned off":
            settings["faces"] = False
        return {name: value for name, value in settings.items() if value is not None}


@dataclass(frozen=True, kw_only=True)
class EvaluateConfig(EvaluationOptions):
    """What ``aegen evaluate`` takes. ``params`` may be given as ``--param METHOD:KEY=VALUE`` texts and
    is kept as a dict of dicts; the method names and the parameters are checked by :func:`evaluate_run`."""

    methods: str = field(default=",".join(DEFAULT_METHODS), metadata=option(
        "--methods", "comma-separated sampler methods; METHOD@LABEL adds another row of the same sampler with "
                     "its own --param settings, e.g. --methods gmm,gmm@all --param gmm@all:max_fit_points=30000"))
    params: dict = field(default_factory=dict, metadata=option(
        "--param", "a sampler parameter of one method (repeatable), e.g. --param flow:transforms=10 "
                   "--param flow:fit_on=train+mirrored; the row is labelled with its parameters",
        metavar="METHOD:KEY=VALUE", repeat=True, parse=str, spell=spell_method_params))
    reference_rows: bool = field(default=True, metadata=option(
        "--no-reference-rows", "leave out the 'reconstruction' and 'real' rows"))
    fid_inf: str | None = field(default=None, metadata=option(
        "--fid-inf", "comma-separated methods (or 'all') whose FID∞ is extrapolated from FID_n at several n "
                     "(Chong & Forsyth 2020), e.g. gaussian,gmm,reconstruction", metavar="METHODS"))

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.params, dict):
            object.__setattr__(self, "params", method_params(self.params))

    def keywords(self) -> dict:
        """The keywords of :func:`evaluate_run` after the run."""
        return {"methods": self.methods, "params": self.params, "reference_rows": self.reference_rows,
                "fid_infinity": names(self.fid_inf), **self.evaluation_keywords()}

    @classmethod
    def from_record(cls, result: dict) -> "EvaluateConfig":
        """The config of an evaluation as its metrics.json records it: the sampler rows give the
        methods and their parameters, the reference rows and FID∞ columns the switches, the protocol
        the settings."""
        rows = [r for r in result.get("rows") or [] if isinstance(r, dict) and r.get("method")]
        samplers = [r for r in rows if r.get("kind", "sampler") == "sampler"]
        fid_inf = [r["method"] for r in rows if r.get("fid_inf") is not None]
        return cls(methods=",".join(dict.fromkeys(r["method"] for r in samplers)),
                   params={r["method"]: dict(r["params"]) for r in samplers if r.get("params")},
                   reference_rows=any(r.get("kind") == "reference" for r in rows),
                   fid_inf=",".join(fid_inf) or None,
                   **cls.recorded_settings(EvalProtocol.from_dict(result.get("protocol"))))


def spell_grid(grid: dict) -> list[str]:
    """``{"fact": [0.5, 0.6]}`` -> ``["fact=0.5,0.6"]``: the ``--param`` texts of ``aegen sweep``."""
    return [f"{name}=" + ",".join(format_value(v) for v in values) for name, values in grid.items()]


@dataclass(frozen=True, kw_only=True)
class SweepConfig(EvaluationOptions):
    """What ``aegen sweep`` takes. ``param`` holds the grid's ``--param NAME=VALUES`` texts, read (and
    checked) by :func:`~aegen.evaluate.protocol.sweep.parameter_grid`."""

    method: str = field(metadata=option("--method", "sampler method, e.g. ellipse-pca", required=True))
    param: tuple[str, ...] = field(metadata=option(
        "--param", "START:STOP:STEP (stop included when reached) or a,b,c; repeat for a grid; fit_on=train,"
                   "train+mirrored compares fitting on the mirrored faces too (aegen encode --mirrored); "
                   "e.g. --param fact=0.5:0.9:0.1 --param n_components=25,50,100",
        metavar="NAME=VALUES", repeat=True, parse=str, required=True))
    baselines: str = field(default=",".join(REFERENCE_ROWS), metadata=option(
        "--baselines", "rows drawn as horizontal lines: reference rows and/or other methods in their default "
                       "parameters, e.g. reconstruction,real,truncated-gaussian ('' for none)"))

    def __post_init__(self):
        from aegen.evaluate.protocol.sweep import parameter_grid

        super().__post_init__()
        object.__setattr__(self, "param", tuple(self.param))
        parameter_grid(list(self.param))

    def keywords(self) -> dict:
        """The keywords of :func:`sweep_run` after the run."""
        return {"method": self.method, "params": list(self.param), "baselines": names(self.baselines),
                **self.evaluation_keywords()}

    @classmethod
    def from_record(cls, result: dict) -> "SweepConfig":
        """The config of a sweep as its metrics.json records it (the grid as lists of values)."""
        baselines = [str(r.get("method")) for r in result.get("baselines") or [] if isinstance(r, dict)]
        return cls(method=str(result.get("method")), param=spell_grid(result.get("grid") or {}),
                   baselines=",".join(baselines),
                   **cls.recorded_settings(EvalProtocol.from_dict(result.get("protocol"))))
