"""Editing real faces along an attribute direction: ``aegen edit``.

A face's stored z-point is moved along the attribute's direction (fitted on the training
z-points, see :mod:`aegen.attributes.directions`) and decoded. Strength s moves the z-point
by s units towards the faces that carry the attribute (negative s: away from them); the unit
is the cloud's standard deviation along the direction (``unit="std"``, the default) or the
distance between the two class centres along it (``unit="centres"``). The strip shows the
original image, its reconstruction (strength 0 by construction), then the edited faces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from aegen import AegenError
from aegen.attributes.directions import DIRECTION_METHODS, STRENGTH_UNITS, AttributeDirection, parse_strengths
from aegen.attributes.labels import attribute_labels, attribute_names, resolve_attributes
from aegen.config import format_option_value, option
from aegen.io import write_json
from aegen.plots import save_figure, use_agg

SEARCH_SPLITS = ("heldout", "train")
MAX_IDS_IN_NAME = 4


@dataclass(frozen=True)
class EditConfig:
    """Every option of ``aegen edit``; ``image`` may be given as a list and is kept as a tuple.

    Checked here: at least one image and a strength text that :func:`parse_strengths` reads, so a
    bad one fails before the run is opened. ``unit`` and ``direction`` are checked where they are
    used (:func:`edit_faces`, :class:`AttributeDirection`), as for any caller of the Python API.
    """

    image: tuple[str, ...] = field(metadata=option(
        "--image", "image id as in RUN/zpoints/*_ids.npy, e.g. 000123.jpg (repeatable: one row each)", metavar="ID",
        repeat=True, parse=str, required=True))
    attr: str = field(metadata=option("--attr", "attribute name, e.g. Smiling", required=True))
    strength: str = field(default="-2:2:5", metadata=option(
        "--strength", "START:STOP:NUM or a,b,c; + adds the attribute"))
    unit: str = field(default="std", metadata=option(
        "--unit", "strength 1 = the cloud's std along the direction (std), or the distance between the class "
                  "centres along it (centres)", choices=STRENGTH_UNITS))
    direction: str = field(default="mean", metadata=option(
        "--direction", "difference of class means, or a linear probe's normal", choices=DIRECTION_METHODS))
    random_state: int = field(default=0, metadata=option("--seed", "seeds the probe", metavar="SEED"))
    out: str | None = field(default=None, metadata=option("--out", "PNG path (default RUN/edits/<id>-<attr>.png)"))

    def __post_init__(self):
        object.__setattr__(self, "image", tuple(self.image))
        if not self.image:
            raise ValueError("--image: name at least one image id")
        parse_strengths(self.strength)

    @classmethod
    def from_record(cls, record: dict, out: str | None = None) -> "EditConfig":
        """The config of an edit as the JSON beside its strip records (``out``: the strip's path where
        it is not the one picked without --out); older records leave what they lack to the defaults."""
        direction = record.get("direction") or {}
        recorded = {"strength": ",".join(format_option_value(s) for s in record.get("strengths") or []) or None,
                    "unit": record.get("unit"), "direction": direction.get("method"),
                    "random_state": direction.get("random_state")}
        return cls(image=[str(i) for i in record.get("ids") or []], attr=str(record.get("attr")), out=out,
                   **{k: v for k, v in recorded.items() if v is not None})

    def keywords(self) -> dict:
        """The keywords of :func:`write_edit_strip` after the run."""
        return {"image_ids": self.image, "attr": self.attr, "strengths": self.strength, "method": self.direction,
                "unit": self.unit, "random_state": self.random_state, "out": self.out}


def find_image(run, image_id: str) -> tuple[str, int]:
    """(split, row) of an image id, looked up in the held-out split, then in train.

    An id matches exactly or by its stem ("000123" finds "000123.jpg"). AegenError if absent.
    """
    image_id = str(image_id).strip()
    for split in SEARCH_SPLITS:
        try:
            ids = np.asarray(run.zpoint_meta(split)["ids"]).astype(str)
        except AegenError:
            continue
        rows = np.flatnonzero(ids == image_id)
        if rows.size == 0:
            rows = np.flatnonzero(np.char.rpartition(ids, ".")[:, 0] == image_id)
        if rows.size:
            return split, int(rows[0])
    raise AegenError(f"no image with id {image_id!r} in the run's held-out or training z-points "
                     "(ids look like those in RUN/zpoints/*_ids.npy)")


def fit_direction(run, attr: str, method: str = "mean", probe_C: float = 1.0, random_state: int = 0,
                  Z: np.ndarray | None = None) -> AttributeDirection:
    """The direction of ``attr`` fitted on the run's training z-points (``Z``: those z-points as
    float64, already read, when fitting several directions)."""
    name = resolve_attributes([attr], attribute_names(run, "train"))[0]
    y = attribute_labels(run, "train", [name])[:, 0]
    if min(np.sum(y > 0), np.sum(y < 0)) < 1:
        raise AegenError(f"the training images hold only one class of {name}: no direction to edit along")
    Z = np.asarray(run.zpoints("train") if Z is None else Z, dtype=np.float64)
    return AttributeDirection(method, C=probe_C, random_state=random_state).fit(Z, y)


def edit_faces(run, image_ids: Sequence[str], attr: str, strengths: str | Sequence[float] = "-2:2:5",
               method: str = "mean", unit: str = "std", probe_C: float = 1.0, random_state: int = 0) -> dict:
    """Edited faces for each id.

    Returns {"images": (n_ids, 2 + k, S, S, 3) uint8 (original, reconstruction, k edits),
    "strengths": (k,), "direction": AttributeDirection, "sources": [(split, row)], ...}.
    """
    if not image_ids:
        raise AegenError("name at least one image id")
    if unit not in STRENGTH_UNITS:
        raise ValueError(f"unit must be one of {STRENGTH_UNITS}, got {unit!r}")
    strengths = parse_strengths(strengths) if isinstance(strengths, str) else np.asarray(strengths, dtype=float)
    name = direction_name(run, attr)
    direction = fit_direction(run, name, method, probe_C, random_state)
    sources = [find_image(run, image_id) for image_id in image_ids]
    Z = np.stack([np.asarray(run.zpoints(split)[row], dtype=np.float32) for split, row in sources])
    originals = np.stack([np.asarray(run.images(split)[row]) for split, row in sources])
    edited = direction.shift(Z, strengths, unit=unit)  # (n, k, d)
    decoded = run.decode(np.concatenate([Z, edited.reshape(-1, Z.shape[1])]), progress=False)
    reconstructions = decoded[:len(Z)]
    strips = decoded[len(Z):].reshape(len(Z), len(strengths), *decoded.shape[1:])
    labels = [int(attribute_labels(run, split, [name])[row, 0]) for split, row in sources]
    return {
        "images": np.concatenate([originals[:, None], reconstructions[:, None], strips], axis=1),
        "strengths": strengths, "direction": direction, "sources": sources, "ids": [str(i) for i in image_ids],
        "attr": name, "unit": unit, "labels": labels,
    }


def direction_name(run, attr: str) -> str:
    """The validated attribute name (AegenError listing the valid names if unknown)."""
    return resolve_attributes([attr], attribute_names(run, "train"))[0]


def edit_file_name(image_ids: Sequence[str], attr: str) -> str:
    """RUN/edits/ file name: "<id stem>-<attr>.png", ids joined by "+" (at most 4 named)."""
    stems = [re.sub(r"[^A-Za-z0-9_.-]", "_", Path(str(i)).stem) for i in image_ids]
    if len(stems) > MAX_IDS_IN_NAME:
        stems = stems[:MAX_IDS_IN_NAME - 1] + [f"{len(stems) - MAX_IDS_IN_NAME + 1}more"]
    return f"{'+'.join(stems)}-{attr}.png"


def write_edit_strip(run, image_ids: Sequence[str], attr: str, strengths: str | Sequence[float] = "-2:2:5",
                     method: str = "mean", unit: str = "std", probe_C: float = 1.0, random_state: int = 0,
                     out: str | Path | None = None) -> Path:
    """Edit the faces and write the labelled strip (one row per id) plus a JSON description.

    Default path RUN/edits/<id>-<attr>.png (see :func:`edit_file_name`). Returns the PNG path.
    """
    result = edit_faces(run, image_ids, attr, strengths, method, unit, probe_C, random_state)
    path = Path(out) if out else Path(run.subdir("edits")) / edit_file_name(image_ids, result["attr"])
    plot_edit_strip(path, result)
    direction = result["direction"]
    write_json(path.with_suffix(".json"), {
        "attr": result["attr"], "ids": result["ids"], "labels": result["labels"],
        "sources": [{"split": split, "row": row} for split, row in result["sources"]],
        "strengths": result["strengths"], "unit": unit, "step_latent_units": direction.step(unit),
        "direction": direction.to_dict(),
        "columns": ["original", "reconstruction"] + [f"strength {s:+g}" for s in result["strengths"]],
    })
    return path


def plot_edit_strip(path: str | Path, result: dict) -> Path:
    """Draw the images of :func:`edit_faces` as a labelled grid and save it."""
    use_agg()
    import matplotlib.pyplot as plt

    images, strengths, direction = result["images"], result["strengths"], result["direction"]
    n_rows, n_cols = images.shape[:2]
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.45 * n_cols, 1.6 * n_rows + 0.9), squeeze=False)
    unit_text = "std of the cloud along it" if result["unit"] == "std" else "class-centre distance along it"
    titles = ["original", "reconstruction"] + [f"{s:+.2g}" for s in strengths]
    for r in range(n_rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.imshow(images[r, c], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(titles[c], fontsize=8)
        has = "has" if result["labels"][r] > 0 else "lacks"
        axes[r, 0].set_ylabel(f"{result['ids'][r]}\n({has} {result['attr']})", fontsize=7)
    gap = direction.centre_gap_ / direction.std_along_ if direction.std_along_ > 0 else float("nan")
    fig.suptitle(
        f"{result['attr']}: {direction.method} direction; strength in {unit_text}\n"
        f"(class centres are {abs(gap):.2f} std apart along it; + adds the attribute)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
