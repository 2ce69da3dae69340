"""The commands that reproduce a run, rebuilt from what each step recorded.

Each step writes its settings next to its results (config.json, summary.json, params.json,
metrics.json, ...); these functions turn them back into ``aegen`` command lines, one per
step that was run, in pipeline order.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from aegen.config import option_argv
from aegen.report.sources import pngs, read_json_if_present
from aegen.train_config import TrainConfig, train_argv


def train_command(run_arg: str, config: dict) -> list[str]:
    """``aegen train`` with every setting config.json records (older runs: those they had), into ``run_arg``."""
    return train_argv(TrainConfig.from_record(config, out=run_arg))


def encode_command(run_arg: str) -> list[str]:
    """``aegen encode`` with the settings the run's z-points were encoded with (older runs: whether mirrored)."""
    from aegen.encode import EncodeConfig

    return ["aegen", "encode", run_arg, *option_argv(EncodeConfig.of_run(run_arg))]


def analyze_command(run_arg: str, summary: dict) -> list[str]:
    """``aegen analyze`` with every setting summary.json records (older runs: those they had)."""
    from aegen.latent.analyze import AnalyzeConfig

    return ["aegen", "analyze", run_arg, *option_argv(AnalyzeConfig.from_summary(summary))]


def sample_command(run_arg: str, folder: Path, params: dict) -> list[str]:
    """``aegen sample`` with every setting the folder's params.json records (older runs: those they had)."""
    from aegen.sample import SampleConfig

    return ["aegen", "sample", run_arg, *option_argv(SampleConfig.from_record(params, folder.name))]


def evaluate_command(run_arg: str, result: dict) -> list[str]:
    """``aegen evaluate`` with every setting its metrics.json records (older evaluations: those they had)."""
    from aegen.evaluate.protocol.config import EvaluateConfig

    return ["aegen", "evaluate", run_arg, *option_argv(EvaluateConfig.from_record(result))]


def sweep_command(run_arg: str, result: dict) -> list[str]:
    """``aegen sweep`` with every setting the sweep's metrics.json records."""
    from aegen.evaluate.protocol.config import SweepConfig

    return ["aegen", "sweep", run_arg, *option_argv(SweepConfig.from_record(result))]


def attributes_command(run_arg: str, summary: dict) -> list[str]:
    """``aegen attributes`` with every setting its summary.json records."""
    from aegen.attributes.config import AttributesConfig

    return ["aegen", "attributes", run_arg, *AttributesConfig.from_summary(summary).argv()]


def rate_command(run_arg: str, result: dict) -> list[str]:
    """``aegen attributes --rate`` with every setting its conditional.json records."""
    from aegen.attributes.config import AttributesConfig

    return ["aegen", "attributes", run_arg, *AttributesConfig.from_conditional(result).argv()]


def edit_command(run_arg: str, png: Path, meta: dict) -> list[str]:
    """``aegen edit`` with every setting the strip's JSON records, and --out where its name is not the default."""
    from aegen.attributes.editing import EditConfig, edit_file_name

    out = None if png.name == edit_file_name(meta["ids"], meta["attr"]) else str(Path(run_arg) / "edits" / png.name)
    return ["aegen", "edit", run_arg, *option_argv(EditConfig.from_record(meta, out=out))]


def reproduction_commands(run) -> list[tuple[str, list[str]]]:
    """(what the step does, argv) for each step the run folder shows was run, in pipeline order."""
    path, run_arg = Path(run.path), str(run.path)
    steps: list[tuple[str, list[str]]] = [("train the autoencoder", train_command(run_arg, run.config))]
    if (path / "zpoints" / "train.npy").is_file():
        steps.append(("encode the images into z-points", encode_command(run_arg)))
    summary = read_json_if_present(path / "analysis" / "summary.json")
    if isinstance(summary, dict):
        steps.append(("analyse the z-point cloud", analyze_command(run_arg, summary)))
    from aegen.report.section_samples import sample_folders

    for folder, params in sample_folders(path):
        if params:
            steps.append((f"sample with {params.get('method', folder.name)}", sample_command(run_arg, folder, params)))
    metrics = read_json_if_present(path / "eval" / "metrics.json")
    if isinstance(metrics, dict):
        steps.append(("evaluate the samplers", evaluate_command(run_arg, metrics)))
    sweeps = path / "eval" / "sweeps"
    for folder in sorted(sweeps.glob("*")) if sweeps.is_dir() else []:
        result = read_json_if_present(folder / "metrics.json")
        if isinstance(result, dict):
            steps.append((f"sweep {result.get('method')}", sweep_command(run_arg, result)))
    attributes = read_json_if_present(path / "attributes" / "summary.json")
    if isinstance(attributes, dict):
        steps.append(("look for attribute clusters", attributes_command(run_arg, attributes)))
    conditional = read_json_if_present(path / "attributes" / "conditional.json")
    if isinstance(conditional, dict):
        steps.append(("rate conditional sampling", rate_command(run_arg, conditional)))
    for png in pngs(path / "edits"):
        meta = read_json_if_present(png.with_suffix(".json"))
        if isinstance(meta, dict) and meta.get("attr") and meta.get("ids"):
            steps.append((f"edit faces along {meta['attr']}", edit_command(run_arg, png, meta)))
    steps.append(("write this report", ["aegen", "report", run_arg]))
    return steps


def shell_command(argv: list[str], width: int = 100) -> str:
    """``argv`` quoted for a POSIX shell; an option and its values move to a continuation line past ``width``."""
    units: list[str] = []
    for k, word in enumerate(argv):
        quoted = shlex.quote(word)
        if k > 0 and word.startswith("--") or not units:
            units.append(quoted)
        else:
            units[-1] += " " + quoted
    lines = [units[0]]
    for unit in units[1:]:
        if len(lines[-1]) + 1 + len(unit) > width:
            lines[-1] += " \\"
            lines.append("    " + unit)
        else:
            lines[-1] += " " + unit
    return "\n".join(lines)


def commands_script(steps: list[tuple[str, list[str]]]) -> str:
    """The steps as a shell script: a comment line, then the quoted command."""
    return "\n".join(f"# {what}\n{shell_command(argv)}" for what, argv in steps)
