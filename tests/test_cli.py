"""End-to-end command line on the session's tiny run: what train and encode write, where the
settings come from and are recorded, and one-line errors."""

import ast
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

import aegen
from aegen.cli import build_parser, main
from aegen.model import ModelConfig
from aegen.run import Run, open_run
from aegen.train import FIXED_ON_RESUME, TrainConfig
from conftest import TINY_DATA, TINY_FLAGS, TINY_HELDOUT, TINY_N_IMAGES, TINY_Z_DIM


def test_train_and_encode_write_the_run(tiny_run_template):
    run = tiny_run_template
    for name in ("config.json", "split.npz", "train_log.csv", "recon_grid.png", "checkpoints/last.safetensors",
                 "zpoints/train.npy", "zpoints/heldout.npy", "zpoints/train_ids.npy", "zpoints/train_attrs.npy"):
        assert (run / name).is_file(), name
    Z = np.load(run / "zpoints" / "train.npy")
    heldout = np.load(run / "zpoints" / "heldout.npy")
    assert Z.shape[1] == TINY_Z_DIM and len(Z) + len(heldout) == TINY_N_IMAGES and np.isfinite(Z).all()
    assert len(np.load(run / "zpoints" / "train_attrs.npy")) == len(Z)


def test_config_records_the_model_once_and_the_cache_folder(tiny_run_template):
    config = json.loads((tiny_run_template / "config.json").read_text())
    assert config["model"] == {**ModelConfig().to_dict(), "image_size": 32, "z_dim": TINY_Z_DIM,
                               "channels": [8, 8, 16, 16]}
    assert not set(config["model"]) & set(config["train"])
    assert config["train"]["batch_size"] == 16 and config["train"]["epochs"] == 1
    assert (config["data"]["heldout_size"], config["data"]["n_heldout"], config["data"]["split_policy"]) == (
        TINY_HELDOUT, TINY_HELDOUT, "random")
    assert config["data"]["cache_dir"] == str(tiny_run_template.parent / "cache")
    run = Run.open(tiny_run_template)
    assert run.model_config == ModelConfig(image_size=32, z_dim=TINY_Z_DIM, channels=(8, 8, 16, 16))
    assert run.cache_dir == config["data"]["cache_dir"]


def test_encode_reuses_the_cache_folder_given_to_train(tiny_run, tmp_path, monkeypatch):
    default_cache = tmp_path / "default-cache"
    monkeypatch.setenv("AEGEN_CACHE_DIR", str(default_cache))
    recorded = Path(Run.open(tiny_run).cache_dir)

    def files():
        return {p: p.stat().st_mtime_ns for p in recorded.rglob("*") if p.is_file()}

    before = files()
    assert before, "train --cache-dir wrote its preprocessing cache there"
    assert main(["encode", str(tiny_run)]) == 0
    assert not default_cache.exists()  # the default cache was never built
    assert files() == before  # and the recorded one was read, not rebuilt


def test_argparse_leaves_every_default_to_the_dataclasses(monkeypatch, tmp_path):
    seen = {}

    def fake_train(cfg):
        seen["cfg"] = cfg
        raise aegen.AegenError("stop here")

    monkeypatch.setattr("aegen.train.train", fake_train)
    args = build_parser().parse_args(["train", "--out", str(tmp_path / "r")])
    assert not {"z_dim", "channels", "epochs", "lr", "image_size", "data", "heldout_fraction"} & set(vars(args))
    assert main(["train", "--out", str(tmp_path / "r")]) == 2
    assert seen["cfg"] == TrainConfig(out=str(tmp_path / "r"))
    assert main(["train", "--out", str(tmp_path / "r"), "--z-dim", "8", "--no-batch-norm", "--heldout-size", "5"]) == 2
    assert seen["cfg"].model == ModelConfig(z_dim=8, batch_norm=False)
    assert (seen["cfg"].heldout_size, seen["cfg"].heldout_fraction) == (5, None)
    help_text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    assert f"(default {TrainConfig().epochs})" in help_text and f"(default {ModelConfig().z_dim})" in help_text


def test_fixed_on_resume_covers_the_model_and_the_split():
    assert set(asdict(ModelConfig())) <= set(FIXED_ON_RESUME)
    assert {"data", "seed", "lr", "batch_size", "limit", "heldout_fraction", "heldout_size"} <= set(FIXED_ON_RESUME)
    assert not {"epochs", "device", "out", "cache_dir", "progress", "resume"} & set(FIXED_ON_RESUME)


def _old_format(run_dir):
    """Rewrite a run's config.json as aegen wrote it before the model was recorded once."""
    path = run_dir / "config.json"
    config = json.loads(path.read_text())
    share = config["data"]["n_heldout"] / config["data"]["n_images"]  # the old way held out a share
    config["train"] = {"data": config["train"]["data"], **config["model"],
                       **{k: config["train"][k] for k in ("epochs", "batch_size", "lr", "seed", "device", "limit")},
                       "heldout_fraction": share}
    config["data"]["heldout_fraction"] = share
    cache = config["data"].pop("cache_dir")
    config["data"].pop("heldout_size")
    path.write_text(json.dumps(config))
    return cache


def test_a_run_written_the_old_way_still_opens_encodes_samples_and_resumes(tiny_run, monkeypatch, capsys):
    from aegen.report.commands import train_command

    monkeypatch.setenv("AEGEN_CACHE_DIR", _old_format(tiny_run))  # old runs found their cache this way
    run = Run.open(tiny_run)
    assert run.model_config.z_dim == TINY_Z_DIM and run.cache_dir is None
    assert run.split_rule["policy"] == "random" and run.split_rule["heldout_size"] is None
    resume = ["train", "--data", TINY_DATA, *TINY_FLAGS, "--heldout-fraction", str(run.split_rule["heldout_fraction"]),
              "--out", str(tiny_run), "--resume"]
    argv = train_command(str(tiny_run), run.config)
    assert argv.count("--z-dim") == 1 and argv[argv.index("--z-dim") + 1] == str(TINY_Z_DIM)
    assert main(["encode", str(tiny_run)]) == 0
    assert main(["sample", str(tiny_run), "--method", "gaussian", "--n", "4", "--no-figures"]) == 0
    assert main(resume + ["--epochs", "2"]) == 0
    assert json.loads((tiny_run / "config.json").read_text())["train"]["epochs"] == 2
    other = [f if f != "8,8,16,16" else "8,8,16,32" for f in resume]
    assert main(other + ["--epochs", "3"]) == 2
    assert "--resume with a different channels" in capsys.readouterr().err


def test_heldout_size_is_recorded_with_its_rule(tmp_path, capsys):
    from aegen.report.commands import train_command
    from conftest import write_celeba_layout

    spec = f"celeba:{write_celeba_layout(tmp_path / 'celeba', n=40, n_people=10)}"
    out = tmp_path / "run"
    base = ["train", "--data", spec, *TINY_FLAGS, "--epochs", "1", "--out", str(out)]
    with pytest.raises(SystemExit):
        build_parser().parse_args(base + ["--heldout-size", "8", "--heldout-fraction", "0.2"])
    assert main(base + ["--heldout-size", "8"]) == 0
    assert "held out by identity" in capsys.readouterr().out
    run = Run.open(out)
    rule = run.split_rule
    assert (rule["policy"], rule["heldout_size"], rule["heldout_fraction"]) == ("identity", 8, None)
    assert rule["n_heldout"] >= 8 and rule["n_train"] + rule["n_heldout"] == 40 and rule["description"]
    argv = train_command(str(out), run.config)
    assert argv[argv.index("--heldout-size") + 1] == "8" and "--heldout-fraction" not in argv
    assert main(base[:-1] + [str(tmp_path / "r2"), "--heldout-size", "40"]) == 2
    assert "held-out size must be an integer in 1..39" in capsys.readouterr().err


def test_open_run_takes_a_path_or_a_run(tiny_run_template):
    run = open_run(tiny_run_template)
    assert isinstance(run, Run) and open_run(run) is run and open_run(str(tiny_run_template)).path == run.path
    stand_in = object()
    assert open_run(stand_in) is stand_in


def _aegen_imports(module: str) -> set[str]:
    """The aegen modules ``module`` imports anywhere in its source (lazy imports included)."""
    src = Path(aegen.__file__).parent
    path = src.joinpath(*module.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("aegen"):
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("aegen")}
    src_modules = {m for m in found if src.joinpath(*m.split(".")[1:]).with_suffix(".py").is_file()
                   or src.joinpath(*m.split(".")[1:], "__init__.py").is_file()}
    return src_modules


def test_inference_does_not_import_training():
    """No import path, lazy ones included, leads from the inference side to training or the CLI."""
    seen, todo = set(), ["aegen.run", "aegen.encode", "aegen.sample", "aegen.report", "aegen.evaluate"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            parts = module.split(".")
            todo += [".".join(parts[:k]) for k in range(2, len(parts))] + sorted(_aegen_imports(module))
    assert "aegen.train" not in seen and not any(m.startswith("aegen.cli") for m in seen), sorted(seen)


def _one_line_error(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err, err


def test_user_errors_are_one_line(tmp_path, capsys, tiny_run_template):
    _one_line_error(capsys, ["train", "--data", f"folder:{tmp_path / 'missing'}", "--out", str(tmp_path / "r")],
                    "no such file or folder")
    (tmp_path / "empty").mkdir()
    _one_line_error(capsys, ["train", "--data", f"folder:{tmp_path / 'empty'}", "--out", str(tmp_path / "r")], "no images")
    _one_line_error(capsys, ["encode", str(tmp_path / "nope")], "no such run folder")
    _one_line_error(capsys, ["train", "--data", TINY_DATA, "--out", str(tiny_run_template), *TINY_FLAGS], "already holds")
    _one_line_error(capsys, ["train", "--data", TINY_DATA, "--out", str(tmp_path / "r2"), "--channels", "8,8"],
                    "4 widths")


def test_a_value_error_anywhere_below_the_cli_is_one_line(monkeypatch, capsys):
    def broken(run, **kwargs):
        raise ValueError("first line\n  second line")

    monkeypatch.setattr("aegen.report.write_report", broken)
    assert main(["report", "RUN"]) == 2
    assert capsys.readouterr().err == "aegen report: error: first line second line\n"
