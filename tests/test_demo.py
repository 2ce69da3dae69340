"""``aegen demo``: its command line carries the demo's settings, and a reduced demo runs every step."""

from __future__ import annotations

import dataclasses
import json

import pytest

from aegen.cli import build_parser
from aegen.demo import DEMO_METHODS, DemoConfig, run_demo


def test_command_line_defaults_are_the_demo_config():
    """One home for the demo's settings: `aegen demo` with no options runs DemoConfig's defaults."""
    args = build_parser().parse_args(["demo"])
    defaults = DemoConfig()
    for field in dataclasses.fields(DemoConfig):
        if hasattr(args, field.name) and field.name != "progress":
            assert getattr(args, field.name) == getattr(defaults, field.name), field.name
    # The settings that make the demo's table tell the CelebA run's story (docs/RESULTS.md, 'The demo and the test suite').
    assert (defaults.epochs, defaults.batch_size, defaults.lr_schedule) == (60, 64, "cosine")
    assert defaults.heldout_size == 2 * defaults.eval_n


def test_the_demo_trains_under_a_preset_only_when_asked():
    """`aegen demo --preset NAME` fills the preset's options and keeps the demo's own settings."""
    from aegen.train_config import PRESETS

    plain = DemoConfig().train_config()
    assert plain.preset is None and plain.z_dim == 256 and not plain.flip
    for name, values in PRESETS.items():
        args = build_parser().parse_args(["demo", "--preset", name])
        cfg = DemoConfig(preset=args.preset).train_config()
        assert cfg.preset == name and all(getattr(cfg, key) == value for key, value in values.items())
        assert (cfg.image_size, cfg.epochs, cfg.batch_size, cfg.lr_schedule) == (32, 60, 64, "cosine")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--preset", "blurry"])


@pytest.mark.slow
def test_reduced_demo_runs_every_step_and_scores_every_row(tmp_path):
    """Train, encode, analyze, sample, evaluate and report on a few hundred faces (about half a minute)."""
    out = run_demo(DemoConfig(out=str(tmp_path / "demo"), n_images=500, epochs=1, eval_n=30, n_samples=8,
                              progress=False))
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["n_heldout"] == 60 and config["train"]["lr_schedule"] == "cosine"
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    rows = {row["method"]: row for row in metrics["rows"]}
    assert set(rows) == set(DEMO_METHODS) | {"reconstruction", "real"}
    assert all(row["n"] == 30 for row in rows.values())
    for method in DEMO_METHODS:
        assert (out / "samples").is_dir() and any((out / "samples").glob(f"{method}*/grid.png")), method
    report = (out / "report" / "index.html").read_text(encoding="utf-8")
    assert 'id="aegen-explorer-settings"' in report  # the demo's report has the live explorer
