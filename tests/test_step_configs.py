"""The options of every step are declared once, on each step's config dataclass:
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
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            assert len({getattr(c, f.name) for c in configs}) > 1, f"{cls.__name__}.{f.name}"  # required: varied
            continue
        default = dataclass_default(cls, f.name)
        assert any(getattr(c, f.name) != default for c in configs), f"{cls.__name__}.{f.name}"
    assert {f.name for f in option_fields(cls)} == {f.name for f in dataclasses.fields(cls)} - set(not_options)


def parse(argv: list[str]):
    assert argv[0] == "aegen"
    return build_parser().parse_args(argv[1:])


def test_options_of_several_words_and_repeated_options_spell_back_and_leave_out_empty_values():
    import argparse

    from aegen.config import add_options, given_options, option

    @dataclasses.dataclass(frozen=True)
    class Several:
        words: tuple[int, ...] = dataclasses.field(default=(), metadata=option(
            "--words", "one or more", nargs="+", parse=int))
        items: tuple[str, ...] = dataclasses.field(default=(), metadata=option(
            "--item", "repeatable", repeat=True, parse=str))
        table: dict = dataclasses.field(default_factory=dict, metadata=option(
            "--pair", "repeatable KEY=VALUE", repeat=True, parse=str,
            spell=lambda table: [f"{k}={v}" for k, v in table.items()]))

    parser = argparse.ArgumentParser()
    add_options(parser, Several)
    assert "(default" not in parser.format_help()  # nothing to quote for empty defaults
    assert option_argv(Several()) == []
    full = Several(words=(3, 1), items=("a", "b c"), table={"k": "1"})
    argv = option_argv(full)
    assert argv == ["--words", "3", "1", "--item", "a", "--item", "b c", "--pair", "k=1"]
    given = given_options(parser.parse_args(argv), Several)
    assert given == {"words": [3, 1], "items": ["a", "b c"], "table": ["k=1"]}
    assert given_options(parser.parse_args([]), Several) == {}


# -- aegen analyze ---------------------------------------------------------------------------------

def analyze_off_default():
    from aegen.latent.analyze import AnalyzeConfig

    return AnalyzeConfig(split="heldout", pairs=((0, 1), (3, 2)), sigmas=(0.5, 2.25), max_points=250,
                         random_state=7, test_points=120, fwhm_bin_width=0.125)


def test_the_analyze_config_sets_every_field_off_its_default():
    from aegen.latent.analyze import AnalyzeConfig

    assert_every_field_off_default(AnalyzeConfig, [analyze_off_default()])


def test_the_analyze_command_parses_back_to_the_config():
    from aegen.cli.common import step_config

    cfg = analyze_off_default()
    parsed = step_config(parse(["aegen", "analyze", "RUN", *option_argv(cfg)]))
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
    from aegen.cli.common import step_config
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
    assert step_config(parse(argv)) == cfg


def test_an_older_analysis_summary_reproduces_with_the_defaults_of_what_it_lacks():
    from aegen.cli.common import step_config
    from aegen.latent.analyze import AnalyzeConfig
    from aegen.report.commands import analyze_command

    older = {"random_state": 3, "parameters": {"pairs": None, "sigmas": [1.0, 2.0], "max_points": 500}}
    parsed = step_config(parse(analyze_command("RUN", older)))
    assert parsed == AnalyzeConfig(random_state=3, sigmas=(1.0, 2.0), max_points=500)
    assert (parsed.split, parsed.test_points, parsed.fwhm_bin_width) == ("train", 5000, None)


# -- aegen encode ----------------------------------------------------------------------------------

def test_the_encode_command_parses_back_to_the_config():
    from aegen.cli.common import step_config
    from aegen.encode import EncodeConfig

    cfg = EncodeConfig(batch_size=7, device="cpu", mirrored=True)
    assert_every_field_off_default(EncodeConfig, [cfg])
    assert step_config(parse(["aegen", "encode", "RUN", *option_argv(cfg)])) == cfg
    with pytest.raises(ValueError, match="--batch-size"):
        EncodeConfig(batch_size=0)


def test_the_recorded_encoding_reproduces_its_config(tiny_run):
    from aegen.cli import main
    from aegen.cli.common import step_config
    from aegen.encode import SETTINGS_FILE, EncodeConfig
    from aegen.report.commands import encode_command

    assert main(["encode", str(tiny_run), "--batch-size", "7", "--device", "cpu", "--mirrored"]) == 0
    argv = encode_command(str(tiny_run))
    assert argv[:3] == ["aegen", "encode", str(tiny_run)]
    assert step_config(parse(argv)) == EncodeConfig(batch_size=7, device="cpu", mirrored=True)
    # A run encoded before encode.json was written: its mirrored z-points say --mirrored, the rest is default.
    (tiny_run / "zpoints" / SETTINGS_FILE).unlink()
    assert step_config(parse(encode_command(str(tiny_run)))) == EncodeConfig(mirrored=True)
    (tiny_run / "zpoints" / "train_mirrored.npy").unlink()
    argv = encode_command(str(tiny_run))
    assert "--mirrored" not in argv and step_config(parse(argv)) == EncodeConfig()


# -- aegen sample ----------------------------------------------------------------------------------

def samples_off_default():
    """Configs that between them set every field off its default (each method option needs its own method)."""
    from aegen.sample import SampleConfig

    common = dict(n=9, seed=4, batch_size=5, where="Smiling=1,Male=-1", out_name="mine", save_images=True,
                  figures=False, params={"reg_covar": 1e-05, "name": "1", "fit_on": "train+mirrored"})
    return [SampleConfig(method="ellipse-pca", n_components=8, fact=0.6, bin_width="seed", width="std", fit_sigma=2.5,
                         max_fit_points=300, **common),
            SampleConfig(method="gmm", n_components="auto", k=4, **common),
            SampleConfig(method="uniform", b=2.25, bounds="observed", **common),
            SampleConfig(method="truncated-gaussian", sigma=1.5, **common)]


def test_the_sample_configs_set_every_field_off_its_default():
    from aegen.sample import SampleConfig

    assert_every_field_off_default(SampleConfig, samples_off_default())


@pytest.mark.parametrize("index", range(4))
def test_the_sample_command_parses_back_to_the_config(index):
    from aegen.cli.common import step_config

    cfg = samples_off_default()[index]
    parsed = step_config(parse(["aegen", "sample", "RUN", *option_argv(cfg)]))
    for f in dataclasses.fields(cfg):
        assert getattr(parsed, f.name) == getattr(cfg, f.name), f.name
    assert parsed == cfg and parsed.params["name"] == "1"


def test_the_sample_config_checks_what_it_is_given():
    from aegen.sample import SampleConfig

    cfg = SampleConfig(method="gmm", n_components=3, params=["n-components=5", "reg_covar=0.001"])
    assert cfg.sampler_params() == {"n_components": 5, "reg_covar": 0.001}
    for kwargs, message in (({"method": "uniform", "fact": 0.5}, "--fact applies to ellipse-pca"),
                            ({"method": "gaussian", "n": 0}, "--n must be at least 1"),
                            ({"method": "gaussian", "batch_size": -1}, "--batch-size must be at least 1"),
                            ({"method": "gaussian", "params": ["k=1", "k=2"]}, "given twice"),
                            ({"method": "gaussian", "params": ["k"]}, "KEY=VALUE")):
        with pytest.raises(ValueError, match=message):
            SampleConfig(**kwargs)


def test_the_recorded_samples_reproduce_their_config(tiny_run):
    """params.json as sample_run writes it -> the report's command -> the real parser: the same samples."""
    from aegen.cli import main
    from aegen.cli.common import step_config
    from aegen.report.commands import sample_command
    from aegen.sample import SampleConfig

    assert main(["encode", str(tiny_run), "--mirrored"]) == 0
    assert main(["sample", str(tiny_run), "--method", "ellipse-pca", "--n", "6", "--seed", "3", "--batch-size", "4",
                 "--n-components", "4", "--param", "fit_on=train+mirrored", "--where", "Smiling=1",
                 "--out-name", "mine", "--save-images", "--no-figures"]) == 0
    folder = tiny_run / "samples" / "mine"
    record = json.loads((folder / "params.json").read_text())
    parsed = step_config(parse(sample_command(str(tiny_run), folder, record)))
    assert parsed == SampleConfig(method="ellipse-pca", n=6, seed=3, batch_size=4, where="Smiling=1", out_name="mine",
                                  save_images=True, figures=False,
                                  params={**record["params"], "fit_on": "train+mirrored"})
    assert parsed.params["n_components"] == 4


def test_an_older_sample_record_reproduces_with_what_its_files_show():
    """params.json written before batch_size, figures and save_images were recorded."""
    from pathlib import Path

    from aegen.cli.common import step_config
    from aegen.report.commands import sample_command
    from aegen.sample import SampleConfig

    older = {"method": "gaussian", "params": {"reg_covar": 1e-06}, "n": 16, "seed": 2, "where": {"Smiling": 1},
             "fit": {"cache": "samplers/gaussian-0"}, "files": ["z.npy", "grid.png", "images.npy", "params.json"]}
    parsed = step_config(parse(sample_command("RUN", Path("RUN/samples/gaussian-Smiling+"), older)))
    assert parsed == SampleConfig(method="gaussian", n=16, seed=2, where="Smiling=1", out_name="gaussian-Smiling+",
                                  params={"reg_covar": 1e-06}, save_images=True, figures=False)
    older["files"].insert(2, "cloud.png")
    assert step_config(parse(sample_command("RUN", Path("RUN/samples/gaussian"), older))).figures is True


# -- aegen attributes (the cluster analysis, and --rate) ------------------------------------------

def attributes_off_default():
    """The analysis and the rating, between them every field off its default."""
    from aegen.attributes.config import AttributesConfig

    common = dict(attrs="Smiling,Split", random_state=3, figures=False)
    return [AttributesConfig(silhouette_points=300, probe_c=0.5, **common),
            AttributesConfig(rate=True, method="gmm", n=40, params={"n_components": 2, "label": "1"},
                             where=("Smiling=1,Male=-1", "Male=1,Split=1"), classifier_epochs=2, classifier_threads=3,
                             retrain=True, **common)]


def test_the_attributes_configs_set_every_field_off_its_default():
    from aegen.attributes.config import ANALYSIS_ONLY, RATE_ONLY, AttributesConfig

    assert_every_field_off_default(AttributesConfig, attributes_off_default())
    analysis, rate = attributes_off_default()
    assert all(getattr(analysis, name) == dataclass_default(AttributesConfig, name) for name in RATE_ONLY)
    assert all(getattr(rate, name) == dataclass_default(AttributesConfig, name) for name in ANALYSIS_ONLY)


@pytest.mark.parametrize("index", [0, 1])
def test_the_attributes_command_parses_back_to_the_config(index):
    from aegen.cli.common import step_config

    cfg = attributes_off_default()[index]
    argv = ["aegen", "attributes", "RUN", *cfg.argv()]
    assert ("--rate" in argv) is cfg.rate and ("--probe-c" in argv) is not cfg.rate  # only its own kind's options
    parsed = step_config(parse(argv))
    for f in dataclasses.fields(cfg):
        assert getattr(parsed, f.name) == getattr(cfg, f.name), f.name
    assert parsed == cfg


@pytest.fixture
def fake_attribute_run(tmp_path, monkeypatch):
    """A labelled fake run opened as "RUN", sampled with a stand-in sampler and judged by pixels."""
    from aegen.attributes import conditional
    from aegen.sample import training_zpoints
    from test_attributes_fakes import gaussian_factory, make_fake_run
    from test_attributes_generation import PixelJudge

    run = make_fake_run(tmp_path)
    build_parser()  # every command's modules imported before the patch (see tests/test_attributes_cli.py)
    monkeypatch.setattr("aegen.run.open_run", lambda path: run)

    def fitted(run, method, params, where, progress=True):
        Z, _ = training_zpoints(run, where)
        return gaussian_factory("gaussian", params).fit(Z), {"n_zpoints": len(Z)}

    monkeypatch.setattr(conditional, "fitted_sampler", fitted)
    class JudgeRecordingEpochs(PixelJudge):
        def __init__(self, epochs):
            self.epochs = epochs

        def get_params(self):
            return {"epochs": self.epochs}

    monkeypatch.setattr(conditional, "load_or_train_classifier", lambda *a, **k: JudgeRecordingEpochs(k["epochs"]))
    return run


def test_the_recorded_attribute_steps_reproduce_their_configs(fake_attribute_run):
    from aegen.attributes.config import AttributesConfig
    from aegen.cli import main
    from aegen.cli.common import step_config
    from aegen.report.commands import attributes_command, rate_command

    folder = fake_attribute_run.path / "attributes"
    assert main(["attributes", "RUN", "--attrs", "Smiling,Split", "--silhouette-points", "300", "--seed", "2",
                 "--probe-c", "0.5", "--no-figures"]) == 0
    summary = json.loads((folder / "summary.json").read_text())
    assert step_config(parse(attributes_command("RUN", summary))) == AttributesConfig(
        attrs="Smiling,Split", silhouette_points=300, random_state=2, probe_c=0.5, figures=False)
    assert main(["attributes", "RUN", "--rate", "--attrs", "Smiling", "--n", "20", "--seed", "4", "--param",
                 "sigma=2.5", "--where", "Smiling=1,Male=-1", "--classifier-epochs", "2", "--no-figures"]) == 0
    result = json.loads((folder / "conditional.json").read_text())
    assert step_config(parse(rate_command("RUN", result))) == AttributesConfig(
        rate=True, attrs="Smiling", n=20, random_state=4, params={"sigma": 2.5}, where=("Smiling=1,Male=-1",),
        classifier_epochs=2, figures=False)


def test_older_attribute_records_reproduce_with_the_defaults_of_what_they_lack():
    from aegen.attributes.config import AttributesConfig
    from aegen.cli.common import step_config
    from aegen.report.commands import attributes_command, rate_command

    summary = {"attributes": {"Smiling": {}, "Male": {}}, "random_state": 1, "figures": {"overview": "x.png"}}
    assert step_config(parse(attributes_command("RUN", summary))) == AttributesConfig(
        attrs="Smiling,Male", random_state=1)
    result = {"attributes": {"Smiling": {}}, "method": "gaussian", "n_per_condition": 50, "random_state": 0,
              "conditions": [{"where": {}}, {"where": {"Smiling": 1}}, {"where": {"Smiling": -1}}], "figure": "c.png"}
    assert step_config(parse(rate_command("RUN", result))) == AttributesConfig(
        rate=True, attrs="Smiling", n=50)


# -- aegen edit ------------------------------------------------------------------------------------

def test_the_edit_command_parses_back_to_the_config():
    """Negative strengths included: the edit parser reads "--strength -1:1:3" as a value, not an option."""
    from aegen.attributes.editing import EditConfig
    from aegen.cli.common import step_config

    configs = [EditConfig(image=("000123.jpg", "000007"), attr="Smiling", strength="-1:1:3", unit="centres",
                          direction="probe", random_state=5, out="strip.png"),
               EditConfig(image=["000001.jpg"], attr="Male", strength="-0.5,2")]
    assert_every_field_off_default(EditConfig, configs)
    for cfg in configs:
        assert step_config(parse(["aegen", "edit", "RUN", *option_argv(cfg)])) == cfg
    assert configs[1].image == ("000001.jpg",)


def test_the_edit_config_checks_what_it_is_given():
    from aegen.attributes.editing import EditConfig

    for kwargs, message in (({"image": ()}, "--image"), ({"image": ["1"], "strength": "1:2"}, "START:STOP:NUM"),
                            ({"image": ["1"], "strength": "a,b"}, "numbers")):
        with pytest.raises(ValueError, match=message):
            EditConfig(attr="Smiling", **kwargs)


def test_the_recorded_edit_reproduces_its_config(tmp_path):
    """The JSON beside a strip -> the report's command -> the real parser; --out only for a name of one's own."""
    from aegen.attributes.editing import EditConfig, edit_file_name
    from aegen.cli.common import step_config
    from aegen.report.commands import edit_command

    meta = json.loads(json.dumps({"attr": "Smiling", "ids": ["000123.jpg", "000007.jpg"], "strengths": [-1.0, 0.5, 2.0],
                                  "unit": "centres", "direction": {"method": "probe", "random_state": 3}}))
    png = tmp_path / "edits" / edit_file_name(meta["ids"], meta["attr"])
    expected = EditConfig(image=("000123.jpg", "000007.jpg"), attr="Smiling", strength="-1,0.5,2", unit="centres",
                          direction="probe", random_state=3)
    assert step_config(parse(edit_command("RUN", png, meta))) == expected
    own = step_config(parse(edit_command("RUN", png.with_name("mine.png"), meta)))
    assert own == dataclasses.replace(expected, out="RUN/edits/mine.png")
    older = {"attr": "Male", "ids": ["000001.jpg"]}
    png = png.with_name(edit_file_name(older["ids"], older["attr"]))
    assert step_config(parse(edit_command("RUN", png, older))) == EditConfig(image=("000001.jpg",), attr="Male")


# -- aegen demo ------------------------------------------------------------------------------------

def test_the_demo_command_parses_back_to_the_config():
    from aegen.cli.common import step_config
    from aegen.demo import DemoConfig

    cfg = DemoConfig(out="elsewhere", n_images=900, epochs=3, eval_n=40, blur=0.75, batch_size=16,
                     lr_schedule="constant", seed=9, preset="sharp", image_size=64, n_samples=8, progress=False)
    assert_every_field_off_default(DemoConfig, [cfg], not_options=("image_size", "n_samples", "progress"))
    api_only = {"image_size": 64, "n_samples": 8, "progress": False}
    assert step_config(parse(["aegen", "demo", *option_argv(cfg)])) == dataclasses.replace(
        cfg, **{name: dataclass_default(DemoConfig, name) for name in api_only})
    assert step_config(parse(["aegen", "demo"])) == DemoConfig()
    assert DemoConfig().out == "runs/demo"
    for kwargs, message in (({"eval_n": 0}, "--eval-n"), ({"n_samples": 0}, "n_samples")):
        with pytest.raises(ValueError, match=message):
            DemoConfig(**kwargs)
