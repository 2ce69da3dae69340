"""The protocol of an evaluation as a type: :class:`EvalProtocol` (and its :class:`ReferenceSet`).

metrics.json records under ``protocol`` the settings, seeds, references, feature extractor and
notes of an evaluation (built by :func:`~aegen.evaluate.protocol.describe.describe_protocol`).
:class:`EvalProtocol` types what tables, figures, configs and the report read (N, seeds, the
reference set, features, skipped metrics, ...) and keeps every other key in ``details`` as it was
recorded. ``to_dict`` gives back exactly the object it was read from: same keys, same order, same
values, so metrics.json and everything rendered from it stay as they were. A key that an older
file lacks is None (or an empty dict) here and stays absent in ``to_dict``; files without a
``version`` (version 1) have the same keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

# The bookkeeping fields of a record; every other dataclass field is a key of metrics.json.
BOOKKEEPING = ("details", "recorded_keys")


class RecordedObject:
    """A dataclass read from one JSON object of metrics.json and written back to the same object.

    Its fields other than ``details`` and ``recorded_keys`` are the keys it types; ``details``
    holds the object's other keys; ``recorded_keys`` the object's keys in their recorded order
    (None for a record built in code: every typed field is written, then the details). A field
    whose ``metadata["record"]`` names another RecordedObject type is read into that type.
    """

    @classmethod
    def typed_fields(cls) -> list:
        return [f for f in fields(cls) if f.name not in BOOKKEEPING]

    def to_dict(self) -> dict:
        """The JSON object this record was read from (or, built in code, its fields and details)."""
        values = {}
        for f in self.typed_fields():
            value = getattr(self, f.name)
            values[f.name] = value.to_dict() if isinstance(value, RecordedObject) else value
        values.update(self.details)
        order = list(values) if self.recorded_keys is None else list(self.recorded_keys)
        order += [key for key in self.details if key not in order]
        return {key: values[key] for key in order if key in values}

    @classmethod
    def from_dict(cls, recorded):
        """A record from its JSON object (None: an empty one); a record of this type passes through."""
        if isinstance(recorded, cls):
            return recorded
        rest = dict(recorded or {})
        typed = {}
        for f in cls.typed_fields():
            if f.name in rest:
                value = rest.pop(f.name)
                record_type = f.metadata.get("record")
                typed[f.name] = record_type.from_dict(value) if record_type and isinstance(value, dict) else value
        return cls(**typed, details=rest, recorded_keys=tuple(recorded or {}))


@dataclass(frozen=True)
class ReferenceSet(RecordedObject):
    """The held-out images every row is scored against (``protocol['reference']``).

    Typed, not left a dict, because the captions, the FID column's header and the figures all
    state its sizes; the rows' own ``reference`` (the split one row was scored against) is a
    different object and stays a dict on :class:`~aegen.evaluate.protocol.rows.EvalRow`.
    """

    split: str | None = None
    n: int | None = None
    seed: int | None = None
    n_train_reference: int | None = None  # training images the 'real' row is scored against
    reconstruction_rows: int | None = None  # other held-out images the 'reconstruction' row encodes
    details: dict = field(default_factory=dict)
    recorded_keys: tuple[str, ...] | None = None


@dataclass(frozen=True)
class EvalProtocol(RecordedObject):
    """How an evaluation was made, as metrics.json's ``protocol`` records it.

    Settings absent from an older file are None (``repeats``, ``fit_seeds`` and ``bootstrap``
    came later: one set, one fit, no bootstrap); the dictionaries ``seeds``, ``skipped``,
    ``reference_values`` and ``versions`` are empty. The notes on FID, KID, intervals, face
    detection, the cache and timings are in ``details``.
    """

    n: int | None = None
    seed: int | None = None
    repeats: int | None = None
    fit_seeds: int | None = None
    bootstrap: int | None = None
    batch_size: int | None = None
    seeds: dict = field(default_factory=dict)
    image_size: int | None = None
    z_dim: int | None = None
    split_sizes: dict | None = None
    split_rule: str | None = None
    reference: ReferenceSet | None = field(default=None, metadata={"record": ReferenceSet})
    features: dict | None = None  # the extractor's describe(); None when features were skipped
    precision_recall: dict | None = None
    density_coverage: dict | None = None
    memorisation: dict | None = None
    latent_check: dict | None = None
    reference_values: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    recorded_keys: tuple[str, ...] | None = None
