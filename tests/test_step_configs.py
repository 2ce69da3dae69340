"""The options of encode, analyze and sample are declared once, on each step's config dataclass:
the parser, what the step records and the report's reproduction command agree on every field."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from aegen.cli import build_parser
from aegen.config import dataclass_default, option_argv, option_fields


def assert_every_field_off_default(cls, configs, not_options=()):
    """A field added without an off-default value in ``configs`` fails here, so the round trips cover it."""
    for f in dataclasses.fields(cls):
        default = dataclass_default(cls, f.name)
        assert any(getattr(c, f.name) != default for c in configs), f"{cls.__name__}.{f.name}"
    assert {f.name for f in option_fields(cls)} == {f.name for f in dataclasses.fields(cls)} - set(not_options)


def parse(argv: list[str]):
    assert argv[0] == "aegen"
    return build_parser().parse_args(argv[1:])


# -- aegen analyze ---------------------------------------------------------------------------------

def analyze_off_default():
    from aegen.latent.analyze import AnalyzeConfig

    return AnalyzeConfig(split="heldout", pairs=((0, 1), (3, 2)), sigmas=(0.5, 2.25), max_points=250,
                         random_state=7, test_points=120, fwhm_bin_width=0.125)


def test_the_analyze_config_sets_every_field_off_its_default():
    from aegen.latent.analyze import AnalyzeConfig

    assert_every_field_off_default(AnalyzeConfig, [analyze_off_default()])


def test_the_analyze_command_parses_back_to_the_config():
    from aegen.cli.analyze import config_from_args

    cfg = analyze_off_default()
    parsed = config_from_args(parse(["aegen", "analyze", "RUN", *option_argv(cfg)]))
    for f in dataclasses.fields(cfg):
        assert getattr(parsed, f.name) == getattr(cfg, f.name), f.name
    assert parsed == cfg


def test_the_analyze_config_reads_the_command_line_text_and_checks_it():
    from aegen.latent.analyze import AnalyzeConfig

    cfg = AnalyzeConfig(pairs=["0,1", "0,1", "4,2"], sigmas="3,1,1")
    assert (cfg.pairs, cfg.sigmas) == (((0, 1), (4, 2)), (1.0, 3.0))
    for kwargs, message in (({"pairs": ["0-1"]}, "expected I,J"), ({"pairs": ["2,2"]}, "same component"),
                            ({"pairs": ["-1,2"]}, "out of range"), ({"sigmas": "1,x"}, "--sigma"),
                            ({"sigmas": "1,2,3,4,5,6"}, "one to five"), ({"max_points": 0}, "--max-points"),
                            ({"test_points": 2}, "--test-points"), ({"fwhm_bin_width": 0.0}, "--fwhm-bin-width"),
                            ({"split": "test"}, "--split")):
        with pytest.raises(ValueError, match=message):
            AnalyzeConfig(**kwargs)


def test_the_recorded_analysis_reproduces_its_config(tmp_path):
    """summary.json as analyze_run writes it (through JSON) -> the report's command -> the real parser."""
    from aegen.cli.analyze import config_from_args
    from aegen.latent import analyze_zpoints
    from aegen.report.commands import analyze_command

    cfg = analyze_off_default()
    keywords = cfg.keywords()
    split = keywords.pop("split")
    Z = np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32)
    summary = analyze_zpoints(Z, tmp_path, figures=False, progress=False, **keywords)
    summary = json.loads(json.dumps({**summary, "split": split}))
    argv = analyze_command("RUN", summary)
    assert argv[:3] == ["aegen", "analyze", "RUN"]
    assert config_from_args(parse(argv)) == cfg


def test_an_older_analysis_summary_reproduces_with_the_defaults_of_what_it_lacks():
    from aegen.cli.analyze import config_from_args
    from aegen.latent.analyze import AnalyzeConfig
    from aegen.report.commands import analyze_command

    older = {"random_state": 3, "parameters": {"pairs": None, "sigmas": [1.0, 2.0], "max_points": 500}}
    parsed = config_from_args(parse(analyze_command("RUN", older)))
    assert parsed == AnalyzeConfig(random_state=3, sigmas=(1.0, 2.0), max_points=500)
    assert (parsed.split, parsed.test_points, parsed.fwhm_bin_width) == ("train", 5000, None)


# -- aegen encode ----------------------------------------------------------------------------------

def test_the_encode_command_parses_back_to_the_config():
    from aegen.cli.encode import config_from_args
    from aegen.encode import EncodeConfig

    cfg = EncodeConfig(batch_size=7, device="cpu", mirrored=True)
    assert_every_field_off_default(EncodeConfig, [cfg])
    assert config_from_args(parse(["aegen", "encode", "RUN", *option_argv(cfg)])) == cfg
    with pytest.raises(ValueError, match="--batch-size"):
        EncodeConfig(batch_size=0)


def test_the_recorded_encoding_reproduces_its_config(tiny_run):
    from aegen.cli import main
    from aegen.cli.encode import config_from_args
    from aegen.encode import SETTINGS_FILE, EncodeConfig
    from aegen.report.commands import encode_command

    assert main(["encode", str(tiny_run), "--batch-size", "7", "--device", "cpu", "--mirrored"]) == 0
    argv = encode_command(str(tiny_run))
    assert argv[:3] == ["aegen", "encode", str(tiny_run)]
    assert config_from_args(parse(argv)) == EncodeConfig(batch_size=7, device="cpu", mirrored=True)
    # A run encoded before encode.json was written: its mirrored z-points say --mirrored, the rest is default.
    (tiny_run / "zpoints" / SETTINGS_FILE).unlink()
    assert config_from_args(parse(encode_command(str(tiny_run)))) == EncodeConfig(mirrored=True)
    (tiny_run / "zpoints" / "train_mirrored.npy").unlink()
    argv = encode_command(str(tiny_run))
    assert "--mirrored" not in argv and config_from_args(parse(argv)) == EncodeConfig()
