"""``aegen train``'s options are declared once: parser, record and reproduction command agree on every field."""

from __future__ import annotations

import dataclasses
import json

import pytest

from aegen.cli import build_parser
from aegen.cli.train import config_from_args
from aegen.config import dataclass_default, option_fields
from aegen.model import ModelConfig
from aegen.report.commands import train_command
from aegen.train_config import TrainConfig, train_argv

# Fields that are no command-line option: the nested model (its fields are options) and the progress bars.
NOT_OPTIONS = {"model", "progress"}
MODEL_OFF_DEFAULT = dict(image_size=32, z_dim=8, channels=(4, 4, 8, 8), kernel_size=3, batch_norm=False,
                         activation="elu", spectral_norm=True, upsampling="nearest")
TRAIN_OFF_DEFAULT = dict(data="synthetic:n=40,seed=3", out="elsewhere", epochs=3, batch_size=7, lr=0.0025,
                         lr_schedule="cosine", preset="samplable", latent_noise=0.25, z_l2=0.01, decoder_gp=0.5,
                         flip=True, adversarial=0.1, adversarial_prior=0.2, adversarial_start=2, seed=5, device="cpu", limit=30, resume=True, progress=False,
                         cache_dir="/tmp/aegen-cache")
TINY_MODEL = dict(image_size=32, z_dim=16, channels=(8, 8, 16, 16))


def configs_off_default() -> list[TrainConfig]:
    """Two configs that between them set every field off its default (the held-out options exclude each other)."""
    model = ModelConfig(**MODEL_OFF_DEFAULT)
    return [TrainConfig(model=model, heldout_size=8, **TRAIN_OFF_DEFAULT),
            TrainConfig(model=model, heldout_fraction=0.25, **TRAIN_OFF_DEFAULT)]


def test_the_configs_set_every_field_off_its_default():
    """A field added without a value here fails this test, so the round trips below cover it."""
    configs = configs_off_default()
    for cls, get in ((TrainConfig, lambda c: c), (ModelConfig, lambda c: c.model)):
        for field in dataclasses.fields(cls):
            if field.name == "model":
                continue
            default = dataclass_default(cls, field.name)
            assert any(getattr(get(c), field.name) != default for c in configs), f"{cls.__name__}.{field.name}"
    declared = {f.name for f in option_fields(TrainConfig)} | {f.name for f in option_fields(ModelConfig)}
    every = {f.name for f in dataclasses.fields(TrainConfig)} | {f.name for f in dataclasses.fields(ModelConfig)}
    assert declared == every - NOT_OPTIONS


@pytest.mark.parametrize("index", [0, 1])
def test_the_emitted_command_parses_back_to_the_config(index):
    cfg = dataclasses.replace(configs_off_default()[index], progress=True)  # no option: the command line's default
    argv = train_argv(cfg)
    assert "--preset" not in argv  # its values are spelled out instead
    parsed = config_from_args(build_parser().parse_args(argv[1:]))
    for field in dataclasses.fields(TrainConfig):
        if field.name != "preset":
            assert getattr(parsed, field.name) == getattr(cfg, field.name), field.name
    assert parsed == dataclasses.replace(cfg, preset=None)


def test_a_record_made_under_a_preset_reproduces_its_values_not_todays_preset(monkeypatch):
    """A preset may change meaning between versions; a run trained under it keeps its own values."""
    from aegen import train_config

    cfg = TrainConfig(preset="samplable", **TINY_MODEL)
    record = json.loads(json.dumps({"model": cfg.model.to_dict(), "train": cfg.settings(),
                                    "data": {"cache_dir": None}}))
    monkeypatch.setitem(train_config.PRESETS, "samplable", {"z_dim": 4, "latent_noise": 0.9})
    again = TrainConfig.from_record(record)
    assert again.preset == "samplable" and again.model == cfg.model and again.latent_noise == cfg.latent_noise
    parsed = config_from_args(build_parser().parse_args(train_command("RUN", record)[1:]))
    assert parsed.model == cfg.model and parsed.latent_noise == cfg.latent_noise and parsed.flip == cfg.flip


@pytest.mark.parametrize("index", [0, 1])
def test_the_reproduction_command_of_a_record_gives_every_recorded_setting(index):
    """config.json (through JSON) -> the report's command -> the real parser: the same run settings."""
    cfg = configs_off_default()[index]
    record = json.loads(json.dumps({"model": cfg.model.to_dict(), "train": cfg.settings(),
                                    "data": {"spec": cfg.data, "cache_dir": cfg.cache_dir}}))
    assert set(record["train"]) == {f.name for f in dataclasses.fields(TrainConfig)} - {
        "model", "out", "resume", "progress", "cache_dir"}
    argv = train_command("RUN", record)
    parsed = config_from_args(build_parser().parse_args(argv[1:]))
    assert parsed == dataclasses.replace(cfg, out="RUN", resume=False, progress=True, preset=None)


def test_a_record_without_the_newer_settings_reproduces_with_what_it_had():
    """Runs written before lr_schedule and the samplable-latent options: the command trains as they did."""
    cfg = TrainConfig(**TINY_MODEL)
    record = {"model": cfg.model.to_dict(), "data": {"cache_dir": None},
              "train": {k: v for k, v in cfg.settings().items()
                        if k not in ("lr_schedule", "latent_noise", "z_l2", "decoder_gp", "flip", "preset")}}
    record["model"].pop("spectral_norm")
    record["model"].pop("upsampling")
    parsed = config_from_args(build_parser().parse_args(train_command("RUN", record)[1:]))
    assert parsed == dataclasses.replace(cfg, out="RUN")
    assert (parsed.lr_schedule, parsed.latent_noise, parsed.flip, parsed.spectral_norm, parsed.upsampling) == \
        ("constant", 0.0, False, False, "transposed")


def test_the_demo_reproduction_command_keeps_its_cosine_rate():
    from aegen.demo import DemoConfig

    cfg = DemoConfig().train_config()
    record = json.loads(json.dumps({"model": cfg.model.to_dict(), "train": cfg.settings(), "data": {}}))
    argv = train_command("runs/demo", record)
    assert argv[argv.index("--lr-schedule") + 1] == "cosine"
    assert config_from_args(build_parser().parse_args(argv[1:])).lr_schedule == "cosine"


def test_every_preset_is_an_autoencoder_the_samplable_study_measured():
    """A preset's figures (README, docs/RESULTS.md) come from the study's variant with the same options."""
    import importlib.util
    from pathlib import Path

    from aegen.train_config import PRESETS

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "samplable_study.py"
    spec = importlib.util.spec_from_file_location("samplable_study", path)
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)

    def trained(argv):
        args = build_parser().parse_args(["train", "--out", "RUN", *argv])
        return dataclasses.replace(config_from_args(args), preset=None)

    measured = {name: trained(flags) for name, flags in study.VARIANTS.items()}
    for preset in PRESETS:
        under_preset = trained(["--preset", preset])
        assert [name for name, cfg in measured.items() if cfg == under_preset], preset
