"""What ``aegen attributes`` takes: :class:`AttributesConfig`, declared once.

The command does one of two things: the cluster analysis (RUN/attributes/summary.json) or,
with ``--rate``, the rating of conditional samples (RUN/attributes/conditional.json). Each
field is an option of one of them or of both (:data:`ANALYSIS_ONLY`, :data:`RATE_ONLY`);
:meth:`AttributesConfig.argv` spells those of the config's own, and the ``from_*`` methods
read a config back from what each records.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from aegen.conditions import condition_name
from aegen.config import option, option_argv
from aegen.params import format_params, parse_params

RATE_GROUP = "rating conditional samples (--rate)"


@dataclass(frozen=True)
class AttributesConfig:
    """Every option of ``aegen attributes``; ``params`` may be given as ``--param`` texts and ``where``
    as a list, and are kept as a dict and a tuple. The numbers are checked where they are used
    (:func:`aegen.attributes.analyze_run`, :func:`aegen.attributes.rate_conditional_sampling`)."""

    attrs: str | None = field(default=None, metadata=option(
        "--attrs", "comma-separated names (default: Smiling,Male,Blond_Hair,Eyeglasses,Wearing_Hat where present, "
                   "else the first 5)"))
    random_state: int = field(default=0, metadata=option(
        "--seed", "seeds subsamples, probes, samplers and the classifier", metavar="SEED"))
    silhouette_points: int = field(default=4000, metadata=option(
        "--silhouette-points", "balanced subsample size for silhouettes and scatter plots", metavar="N"))
    probe_c: float = field(default=1.0, metadata=option(
        "--probe-c", "inverse L2 strength of the linear probe", metavar="C"))
    figures: bool = field(default=True, metadata=option("--no-figures", "skip the figures"))
    rate: bool = field(default=False, metadata=option(
        "--rate", "rate conditional sampling instead of the cluster analysis", group=RATE_GROUP))
    method: str = field(default="gaussian", metadata=option(
        "--method", "sampler name (any of `aegen sample`'s methods)", group=RATE_GROUP))
    n: int = field(default=500, metadata=option("--n", "samples per condition", group=RATE_GROUP))
    params: dict = field(default_factory=dict, metadata=option(
        "--param", "sampler parameter (repeatable)", metavar="KEY=VALUE", repeat=True, parse=str, spell=format_params,
        group=RATE_GROUP))
    where: tuple[str, ...] = field(default=(), metadata=option(
        "--where", "an extra joint condition to rate (repeatable; values 1 or -1, also 0, true, false)",
        metavar="A=1,B=-1", repeat=True, parse=str, group=RATE_GROUP))
    classifier_epochs: int = field(default=5, metadata=option(
        "--classifier-epochs", "epochs of the attribute classifier", group=RATE_GROUP))
    classifier_threads: int = field(default=1, metadata=option(
        "--classifier-threads", "torch threads for the classifier (1: fastest on a busy machine)", group=RATE_GROUP))
    retrain: bool = field(default=False, metadata=option(
        "--retrain", "train the attribute classifier again", group=RATE_GROUP))

    def __post_init__(self):
        if not isinstance(self.params, dict):
            object.__setattr__(self, "params", parse_params(self.params))
        object.__setattr__(self, "where", tuple(self.where))

    def argv(self) -> list[str]:
        """The options that give this config's fields of its own kind (analysis or --rate) their values."""
        return option_argv(self, skip=ANALYSIS_ONLY if self.rate else RATE_ONLY)

    @classmethod
    def from_summary(cls, summary: dict) -> "AttributesConfig":
        """The config of a cluster analysis as its summary.json records it."""
        recorded = {"attrs": ",".join(summary.get("attributes") or {}) or None, "figures": bool(summary.get("figures")),
                    "random_state": summary.get("random_state"), "silhouette_points": summary.get("silhouette_points"),
                    "probe_c": summary.get("probe_C")}
        return cls(**{k: v for k, v in recorded.items() if v is not None})

    @classmethod
    def from_conditional(cls, result: dict) -> "AttributesConfig":
        """The config of a rating of conditional samples as its conditional.json records it (the
        conditions on one of the rated attributes are the rating's own, the others its ``--where``)."""
        names = list(result.get("attributes") or {})
        where = []
        for condition in result.get("conditions") or []:
            wanted = condition.get("where") if isinstance(condition, dict) else None
            if wanted and (len(wanted) > 1 or next(iter(wanted)) not in names):
                where.append(condition_name(wanted))
        recorded = {"attrs": ",".join(names) or None, "method": result.get("method"),
                    "n": result.get("n_per_condition"), "random_state": result.get("random_state"),
                    "params": result.get("params"), "where": where, "figures": bool(result.get("figure")),
                    "classifier_epochs": ((result.get("classifier") or {}).get("params") or {}).get("epochs")}
        return cls(rate=True, **{k: v for k, v in recorded.items() if v is not None})


RATE_ONLY = tuple(f.name for f in fields(AttributesConfig) if f.metadata.get("group") == RATE_GROUP)
ANALYSIS_ONLY = ("silhouette_points", "probe_c")
