"""The result types of an evaluation: a row per method, the paired differences, the whole result.

:class:`EvalRow` holds what tables, figures and comparisons read, typed (a metric with an
interval is an :class:`~aegen.evaluate.metrics.intervals.Interval`), and keeps every other measurement
(copying tests, latent check, provenance, timings) in ``details`` as it was recorded.
:class:`PairedDifferences` is the table of every pair of rows compared per metric, and
:class:`EvalResult` the rows, differences and protocol (an
:class:`~aegen.evaluate.protocol.record.EvalProtocol`) together. Each converts to and from the
flat dictionaries of metrics.json (``to_dict`` / ``from_dict``), whose keys stay as they were:
``fid``, ``fid_low``, ``fid_high``, ``fid_interval``, ... Files written before the result
carried a ``version`` read the same way (absent keys are None).

:data:`COLUMNS` declares the table columns once (header, cell, group); metrics.md
(:mod:`aegen.evaluate.tables`) and the report's evaluation section render from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Callable

import numpy as np

from aegen.evaluate.metrics.intervals import Interval
from aegen.evaluate.protocol.record import EvalProtocol

# Version of the metrics.json layout; files without the field are version 1 (same keys).
RESULT_VERSION = 2
INTERVAL_METRICS = ("fid", "kid", "fid_inf", "face_rate")
PLAIN_METRICS = ("precision", "recall", "density", "coverage")
MISSING = "–"


@dataclass
class ScoredSet:
    """A row being scored (its flat dict, finished into an :class:`EvalRow`) and the per-image
    values behind it, kept for the figures and the intervals."""

    row: dict
    radii: np.ndarray | None = None
    nn_distances: np.ndarray | None = None
    images: np.ndarray | None = field(default=None, repr=False)
    features: list[np.ndarray] = field(default_factory=list, repr=False)
    loglik_values: np.ndarray | None = field(default=None, repr=False)
    set_fits: list[int] | None = None  # the fit (0..K-1) each sample set was drawn from; None: one fit


def row_label(method: str, params: dict | None) -> str:
    """'gmm', or 'ellipse-pca(fact=0.7, n_components=100)' for a row with parameters."""
    return method + (f"({', '.join(f'{k}={v}' for k, v in sorted(params.items()))})" if params else "")


def _interval(flat: dict, key: str) -> Interval | None:
    """The interval stored under key, key_low, key_high (and key_interval, its label), popped from ``flat``."""
    estimate, low, high = flat.pop(key, None), flat.pop(f"{key}_low", None), flat.pop(f"{key}_high", None)
    label = flat.pop(f"{key}_interval", None)
    return None if estimate is None else Interval(estimate, low, high, label)


def _flat_interval(key: str, interval: Interval | None) -> dict:
    if interval is None:
        return {key: None}
    out = {key: interval.estimate, f"{key}_low": interval.low, f"{key}_high": interval.high}
    if interval.label is not None:
        out[f"{key}_interval"] = interval.label
    return out


@dataclass
class CopyVerdict:
    """The headline of a copying test (image or latent): z-score, excess, near items, flag."""

    z: float | None
    excess: float | None = None
    near_items: int | None = None
    flagged: bool = False
    applicable: bool = True


@dataclass
class EvalRow:
    """One row of an evaluation: a sampler method (or a reference row) and its measurements."""

    method: str
    kind: str = "sampler"
    params: dict = field(default_factory=dict)
    n: int | None = None
    fid: Interval | None = None
    kid: Interval | None = None
    fid_inf: Interval | None = None
    face_rate: Interval | None = None
    precision: float | None = None
    recall: float | None = None
    density: float | None = None
    coverage: float | None = None
    reference: dict | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return row_label(self.method, self.params)

    @property
    def against_heldout(self) -> bool:
        """Scored against the held-out reference (every row but 'real'; rows of old files too)."""
        return (self.reference or {}).get("split", "heldout") == "heldout"

    def metric(self, name: str) -> Interval | None:
        """Metric ``name`` as an interval (one without bounds for a plain value), or None when not measured."""
        value = getattr(self, name) if name in _FIELDS else self.details.get(name)
        if value is None or isinstance(value, Interval):
            return value
        return Interval(value, None, None, None)

    def value(self, name: str) -> float | None:
        """The estimate of metric ``name`` (a field or a detail), or None."""
        found = self.metric(name)
        return None if found is None else found.estimate

    def copy_verdict(self, prefix: str = "") -> CopyVerdict:
        """The image copying test's verdict (prefix '') or the latent one's ('latent_')."""
        d = self.details
        return CopyVerdict(z=d.get(f"{prefix}copy_z"), excess=d.get(f"{prefix}copy_excess"),
                           near_items=d.get(f"{prefix}copy_items_total"), flagged=bool(d.get(f"{prefix}copy_flagged")),
                           applicable=d.get(f"{prefix}copy_applicable") is not False)

    def to_dict(self) -> dict:
        """The flat dictionary of metrics.json."""
        out = {"method": self.method, "kind": self.kind, "params": dict(self.params), "n": self.n}
        for name in INTERVAL_METRICS:
            interval = getattr(self, name)
            if interval is not None or name != "fid_inf":
                out.update(_flat_interval(name, interval))
        for name in PLAIN_METRICS:
            out[name] = getattr(self, name)
        if self.reference is not None:
            out["reference"] = self.reference
        out.update(self.details)
        if self.error is not None:
            out["error"] = self.error
        out["notes"] = list(self.notes)
        return out

    @classmethod
    def from_dict(cls, row: dict | EvalRow) -> EvalRow:
        """A row from metrics.json (any version) or from :meth:`to_dict`; an EvalRow passes through."""
        if isinstance(row, EvalRow):
            return row
        flat = dict(row)
        typed = {name: _interval(flat, name) for name in INTERVAL_METRICS}
        typed.update({name: flat.pop(name, None) for name in
                      (*PLAIN_METRICS, "n", "reference", "error")})
        return cls(method=flat.pop("method", "?"), kind=flat.pop("kind", "sampler"), params=flat.pop("params", None) or {},
                   notes=list(flat.pop("notes", None) or []), details=flat, **typed)


_FIELDS = {f.name for f in fields(EvalRow)}


def as_rows(rows) -> list[EvalRow]:
    """Rows as :class:`EvalRow` (dicts of metrics.json are read with :meth:`EvalRow.from_dict`)."""
    return [EvalRow.from_dict(r) for r in rows or [] if isinstance(r, (dict, EvalRow))]


@dataclass
class Difference:
    """Row a minus row b for one metric, with its interval and whether the interval excludes 0."""

    a: str
    b: str
    difference: float
    low: float | None
    high: float | None
    significant: bool
    interval: str

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "difference": self.difference, "low": self.low, "high": self.high,
                "significant": self.significant, "interval": self.interval}

    @classmethod
    def from_dict(cls, d: dict) -> Difference:
        return cls(d["a"], d["b"], d["difference"], d.get("low"), d.get("high"), bool(d.get("significant")),
                   d.get("interval", ""))


@dataclass
class PairedDifferences:
    """Every pair of rows compared, per metric (fid, kid, fid_inf, latent_loglik)."""

    by_metric: dict[str, list[Difference]] = field(default_factory=dict)

    def between(self, metric: str, a: str, b: str) -> Difference | None:
        """The difference a - b of ``metric`` (with its interval turned round when stored as b - a)."""
        for d in self.by_metric.get(metric, []):
            if (d.a, d.b) == (a, b):
                return d
            if (d.a, d.b) == (b, a):
                low, high = (None, None) if d.low is None else (-d.high, -d.low)
                return Difference(a, b, -d.difference, low, high, d.significant, d.interval)
        return None

    def to_dict(self) -> dict:
        return {metric: [d.to_dict() for d in items] for metric, items in self.by_metric.items()}

    @classmethod
    def from_dict(cls, d: dict | PairedDifferences | None) -> PairedDifferences:
        if isinstance(d, PairedDifferences):
            return d
        return cls({metric: [Difference.from_dict(x) for x in items if isinstance(x, dict)]
                    for metric, items in (d or {}).items() if isinstance(items, list)})


@dataclass
class EvalResult:
    """What ``aegen evaluate`` measured: the rows, their paired differences and the protocol."""

    rows: list[EvalRow]
    differences: PairedDifferences
    protocol: EvalProtocol
    version: int = RESULT_VERSION

    def to_dict(self) -> dict:
        return {"version": self.version, "rows": [r.to_dict() for r in self.rows],
                "differences": self.differences.to_dict(), "protocol": self.protocol.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> EvalResult:
        """metrics.json of any version (files without ``version`` are version 1)."""
        return cls(rows=as_rows(d.get("rows")), differences=PairedDifferences.from_dict(d.get("differences")),
                   protocol=EvalProtocol.from_dict(d.get("protocol")), version=int(d.get("version", 1)))


# -- the columns of every evaluation table ---------------------------------------------
def number(value, digits: int) -> str:
    return MISSING if value is None else f"{value:.{digits}f}"


def percent(value) -> str:
    return MISSING if value is None else f"{100 * value:.1f}%"


def interval_text(interval: Interval | None, digits: int, scale: float = 1.0) -> str:
    """'93.2 [91.0, 95.4]', or the value alone when there is no interval."""
    if interval is None or interval.estimate is None:
        return MISSING
    text = f"{scale * interval.estimate:.{digits}f}"
    if interval.low is not None and interval.high is not None:
        text += f" [{scale * interval.low:.{digits}f}, {scale * interval.high:.{digits}f}]"
    return text


def face_rate_text(interval: Interval | None) -> str:
    if interval is None:
        return MISSING
    return percent(interval.estimate) + (f" [{100 * interval.low:.0f}, {100 * interval.high:.0f}]"
                                         if interval.low is not None else "")


def copy_text(verdict: CopyVerdict) -> str:
    """'-1.1 (0.07)': the copying z-score and excess, then '12 near' when some generated items are
    training winners nearer than the probe's 1st percentile, 'copying' when flagged; 'n/a' where
    the test does not apply (off the z-shell, or the row's vectors fit the latent metric)."""
    if not verdict.applicable:
        return "n/a"
    if verdict.z is None:
        return MISSING
    text = f"{verdict.z:+.1f} ({verdict.excess or 0.0:.2f})"
    if verdict.near_items:
        text += f" {verdict.near_items} near"
    return text + (" copying" if verdict.flagged else "")


def loglik_text(row: EvalRow) -> str:
    """Held-out latent log-likelihood per dimension ± 1.96 SE, 'outside support', or missing."""
    loglik, se = row.details.get("latent_loglik"), row.details.get("latent_loglik_se")
    if loglik is None:
        return "outside support" if row.details.get("latent_loglik_outside_support") else MISSING
    return f"{loglik:.3f} ± {1.96 * se:.3f}"


def feature_label(protocol: EvalProtocol) -> str:
    """'Inception' or a warning label such as 'pixels 16x16 (not Inception)'."""
    features = protocol.features
    if not features:
        return "none"
    return "Inception" if features["id"].startswith("inception") else features["id"]


def _feature_suffix(protocol: EvalProtocol) -> str:
    label = feature_label(protocol)
    return "" if label == "Inception" else f" [{label}]"


def _fid_header(protocol: EvalProtocol) -> str:
    reference_n = protocol.n if protocol.reference is None or protocol.reference.n is None else protocol.reference.n
    return f"FID{_feature_suffix(protocol)} at N = {protocol.n} vs this {reference_n}-image reference [95%]"


@dataclass(frozen=True)
class Column:
    """One column of the evaluation tables.

    header: its title (a string, or protocol -> string where it names N or the features);
    cell: row -> text; group: 'distribution' (how close to real images) or 'checks'
    (memorisation and latent checks); better: '↓', '↑' or '' (shown in the report).
    """

    header: str | Callable[[EvalProtocol], str]
    cell: Callable[[EvalRow], str]
    group: str
    better: str = ""

    def title(self, protocol: EvalProtocol, arrows: bool = False) -> str:
        text = self.header(protocol) if callable(self.header) else self.header
        return f"{text} {self.better}" if arrows and self.better else text


DISTRIBUTION, CHECKS = "distribution", "checks"
COLUMNS = (
    Column("N", lambda r: MISSING if r.n is None else str(r.n), DISTRIBUTION),
    Column(_fid_header, lambda r: interval_text(r.fid, 1), DISTRIBUTION, "↓"),
    Column(lambda p: f"KID×10³{_feature_suffix(p)} [95%]", lambda r: interval_text(r.kid, 2, 1e3), DISTRIBUTION, "↓"),
    Column("precision", lambda r: number(r.precision, 3), DISTRIBUTION, "↑"),
    Column("recall", lambda r: number(r.recall, 3), DISTRIBUTION, "↑"),
    Column("density", lambda r: number(r.density, 3), DISTRIBUTION, "↑"),
    Column("coverage", lambda r: number(r.coverage, 3), DISTRIBUTION, "↑"),
    Column("faces [95%]", lambda r: face_rate_text(r.face_rate), DISTRIBUTION, "↑"),
    Column("NN-train median", lambda r: number(r.details.get("nn_train_median"), 3), CHECKS),
    Column("copy Z", lambda r: copy_text(r.copy_verdict()), CHECKS),
    Column("Meehan C_T", lambda r: number(r.details.get("meehan_ct"), 1), CHECKS),
    Column("z radius in band", lambda r: percent(r.details.get("latent_in_band")), CHECKS),
    Column("radius KS", lambda r: number(r.details.get("latent_radius_ks"), 2), CHECKS),
    Column("z copy Z", lambda r: copy_text(r.copy_verdict("latent_")), CHECKS),
    Column("log p(z)/dim [95%]", loglik_text, CHECKS),
    Column("radius median", lambda r: number(r.details.get("latent_radius_median"), 1), CHECKS),
)


def columns(group: str | None = None) -> list[Column]:
    """The columns of one group ('distribution' or 'checks'), or all of them."""
    return [c for c in COLUMNS if group is None or c.group == group]
