"""The protocol section: versions, seeds, the evaluation protocol, and the commands that reproduce the run."""

from __future__ import annotations

import platform
from pathlib import Path

import aegen
from aegen.evaluate.protocol.record import EvalProtocol
from aegen.report.blocks import Code, Columns, Details, Heading, Section, Table, Text
from aegen.report.commands import commands_script, reproduction_commands
from aegen.report.section_samples import sample_folders
from aegen.report.sources import dig, flatten, read_json_if_present

# Parts of the evaluation protocol shown elsewhere or of no use for reproducing it.
PROTOCOL_SKIP = ("versions", "timings_s", "cache", "reference_values", "skipped")


def recorded_protocol(metrics) -> EvalProtocol | None:
    """The protocol recorded in metrics.json's object, or None where there is none."""
    protocol = metrics.get("protocol") if isinstance(metrics, dict) else None
    return EvalProtocol.from_dict(protocol) if isinstance(protocol, dict) else None


def versions_table(run, metrics: dict | None) -> Table:
    config = run.config
    training = {"aegen": config.get("aegen_version"), "torch": config.get("torch_version"),
                "device": config.get("device")}
    protocol = recorded_protocol(metrics)
    evaluation = dict(protocol.versions) if protocol is not None else {}
    names = list(dict.fromkeys(list(training) + list(evaluation)))
    rows = [[name, str(training.get(name) or "—"), str(evaluation.get(name) or "—")] for name in names
            if training.get(name) or evaluation.get(name)]
    rows.append(["aegen writing this report", aegen.__version__, f"Python {platform.python_version()}"])
    headers = ["package", "training", "evaluation" if metrics else "evaluation (not run)"]
    return Table(headers, rows, caption="Versions recorded by each step; the evaluation's numbers depend on all of them.")


def seeds_table(run) -> Table:
    path = Path(run.path)
    rows = [["training (initialisation, shuffling)", str(dig(run.config, "train", "seed", default="—"))],
            ["held-out split", str(dig(run.config, "data", "split_seed", default=dig(run.config, "train", "seed",
                                                                                    default="—")))]]
    summary = read_json_if_present(path / "analysis" / "summary.json")
    if isinstance(summary, dict):
        rows.append(["latent analysis subsamples", str(summary.get("random_state", "—"))])
    for folder, params in sample_folders(path):
        if params:
            rows.append([f"sampler {folder.name}: sampling / fit", f"{params.get('seed', '—')} / "
                                                                   f"{dig(params, 'params', 'random_state', default='—')}"])
    protocol = recorded_protocol(read_json_if_present(path / "eval" / "metrics.json"))
    for purpose, seed in (protocol.seeds if protocol is not None else {}).items():
        rows.append([f"evaluation: {purpose}", str(seed)])
    attributes = read_json_if_present(path / "attributes" / "summary.json")
    if isinstance(attributes, dict):
        rows.append(["attribute analysis", str(attributes.get("random_state", "—"))])
    return Table(["random choice", "seed"], rows, numeric={1},
                 caption="Every random choice is seeded; the same seeds and versions give the same numbers.")


def protocol_section(run) -> Section:
    path = Path(run.path)
    metrics = read_json_if_present(path / "eval" / "metrics.json")
    metrics = metrics if isinstance(metrics, dict) else None
    protocol = recorded_protocol(metrics)
    section = Section("protocol", "Protocol and reproduction",
                      lead="Versions, seeds and the exact commands that rebuild every result on this page.")
    script = commands_script(reproduction_commands(run))
    section.blocks += [
        Heading("Commands"),
        Code(script, caption=f"Run from the folder the run was made in (paths are as recorded, e.g. `{path}`); "
                             "each command writes the files the matching section reads."),
        Heading("Versions and seeds"), Columns([versions_table(run, metrics), seeds_table(run)])]
    if protocol is not None:
        rows = [[k, v] for k, v in flatten({k: v for k, v in protocol.to_dict().items() if k not in PROTOCOL_SKIP})]
        section.blocks.append(Details("The evaluation protocol in full", [Table(["setting", "value"], rows)]))
    else:
        section.blocks.append(Text(f"No evaluation protocol yet: `aegen evaluate {path}` records it.", "note"))
    config_rows = [[k, v] for k, v in flatten({k: v for k, v in run.config.items() if k != "data"})]
    data = {k: v for k, v in (run.config.get("data") or {}).items() if k != "attr_names"}
    config_rows += [[f"data.{k}", v] for k, v in flatten(data)]
    section.blocks.append(Details("The run's config.json", [Table(["key", "value"], config_rows)]))
    return section
