"""The evaluate, sweep and report configs: every field round-trips through the real parser, and
recorded evaluations reproduce their configs (the other steps: test_step_configs.py)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from aegen.config import option_argv
from test_step_configs import assert_every_field_off_default, parse

# -- aegen evaluate and aegen sweep ----------------------------------------------------------------

SHARED_OFF_DEFAULT = dict(n=12, repeats=3, fit_seeds=2, bootstrap=0, seed=5, features="pixels", feature_mode="exact",
                          faces=False, batch_size=7, quiet=True, figures=False)


def evaluate_off_default():
    from aegen.evaluate.protocol.config import EvaluateConfig

    return EvaluateConfig(methods="gmm,gaussian@sobol,uniform", reference_rows=False, fid_inf="gmm,reconstruction",
                          params={"gmm": {"n_components": 2, "label": "1"}, "gaussian@sobol": {"base_noise": "sobol"}},
                          **SHARED_OFF_DEFAULT)


def sweeps_off_default():
    """Two sweeps (the method and the grid are required: each takes two values)."""
    from aegen.evaluate.protocol.config import SweepConfig

    return [SweepConfig(method="ellipse-pca", param=("fact=0.5:0.9:0.1", "fit_on=train,train+mirrored"), baselines="",
                        **SHARED_OFF_DEFAULT),
            SweepConfig(method="gmm", param=["n_components=1,2"], baselines="real,truncated-gaussian")]


def test_the_evaluate_and_sweep_configs_set_every_field_off_its_default():
    from aegen.evaluate.protocol.config import EvaluateConfig, SweepConfig

    assert_every_field_off_default(EvaluateConfig, [evaluate_off_default()])
    assert_every_field_off_default(SweepConfig, sweeps_off_default())


def test_the_evaluate_command_parses_back_to_the_config():
    from aegen.cli.common import step_config

    cfg = evaluate_off_default()
    parsed = step_config(parse(["aegen", "evaluate", "RUN", *option_argv(cfg)]))
    for f in dataclasses.fields(cfg):
        assert getattr(parsed, f.name) == getattr(cfg, f.name), f.name
    assert parsed == cfg and parsed.params["gmm"]["label"] == "1"


@pytest.mark.parametrize("index", [0, 1])
def test_the_sweep_command_parses_back_to_the_config(index):
    from aegen.cli.common import step_config

    cfg = sweeps_off_default()[index]
    parsed = step_config(parse(["aegen", "sweep", "RUN", *option_argv(cfg)]))
    for f in dataclasses.fields(cfg):
        assert getattr(parsed, f.name) == getattr(cfg, f.name), f.name
    assert parsed == cfg


def test_the_evaluation_configs_check_their_settings_by_the_evaluations_rules():
    from aegen.evaluate.protocol.config import EvaluateConfig, SweepConfig

    assert EvaluateConfig(params=["gmm:n-components=3", "gmm:reg_covar=0.001"]).params == {
        "gmm": {"n_components": 3, "reg_covar": 0.001}}
    for kwargs, message in (({"n": 1}, "--n must be >= 2"), ({"seed": -1}, "--seed must be >= 0"),
                            ({"bootstrap": 1}, "1 is too few"), ({"fit_seeds": 0}, "--fit-seeds must be >= 1"),
                            ({"batch_size": 0}, "--batch-size must be >= 1"),
                            ({"params": ["n_components=3"]}, "--param expects METHOD:KEY=VALUE")):
        with pytest.raises(ValueError, match=message):
            EvaluateConfig(**kwargs)
    for param, message in ((["fact=1:0:0.1"], "never goes"), (["k=1", "k=2"], "given twice"), ([], "at least one")):
        with pytest.raises(ValueError, match=message):
            SweepConfig(method="gmm", param=param)


def test_the_recorded_evaluation_and_sweep_reproduce_their_configs(tiny_run):
    """metrics.json as evaluate_run and sweep_run write it -> the report's command -> the real parser."""
    from aegen.cli.common import step_config
    from aegen.cli import main
    from aegen.evaluate.protocol.config import EvaluateConfig, SweepConfig
    from aegen.report.commands import evaluate_command, sweep_command

    shared = ["--n", "4", "--repeats", "2", "--bootstrap", "0", "--seed", "3", "--features", "pixels", "--no-faces",
              "--batch-size", "5", "--quiet", "--no-figures"]
    assert main(["evaluate", str(tiny_run), "--methods", "gaussian,gaussian@sobol", "--param",
                 "gaussian@sobol:base_noise=sobol", "--fid-inf", "gaussian", *shared]) == 0
    result = json.loads((tiny_run / "eval" / "metrics.json").read_text())
    argv = evaluate_command(str(tiny_run), result)
    assert argv[:3] == ["aegen", "evaluate", str(tiny_run)]
    expected = dict(n=4, repeats=2, bootstrap=0, seed=3, features="pixels", faces=False, batch_size=5)
    assert step_config(parse(argv)) == EvaluateConfig(
        methods="gaussian,gaussian@sobol", params={"gaussian@sobol": {"base_noise": "sobol"}}, fid_inf="gaussian",
        **expected)
    assert main(["sweep", str(tiny_run), "--method", "truncated-gaussian", "--param", "sigma=1:2:0.5",
                 "--baselines", "real", *shared]) == 0
    (folder,) = (tiny_run / "eval" / "sweeps").glob("truncated-gaussian-*")
    result = json.loads((folder / "metrics.json").read_text())
    assert step_config(parse(sweep_command(str(tiny_run), result))) == SweepConfig(
        method="truncated-gaussian", param=("sigma=1.0,1.5,2.0",), baselines="real", **expected)


def test_an_older_metrics_file_reproduces_with_the_defaults_of_what_it_lacks():
    from aegen.cli.common import step_config
    from aegen.evaluate.protocol.config import EvaluateConfig

    older = {"rows": [{"method": "gaussian", "params": {}}, {"method": "real", "kind": "reference"}],
             "protocol": {"n": 50, "seed": 1, "features": {"id": "inception-v3-fid"}}}
    assert step_config(parse(["aegen", "evaluate", "RUN", *option_argv(EvaluateConfig.from_record(older))])) == \
        EvaluateConfig(methods="gaussian", n=50, seed=1)


# -- aegen report ----------------------------------------------------------------------------------

def test_the_report_command_parses_back_to_the_config():
    from aegen.cli.common import step_config
    from aegen.report.config import ReportConfig

    cfg = ReportConfig(out_dir="my report", embed=True, explorer=False)
    assert_every_field_off_default(ReportConfig, [cfg])
    assert step_config(parse(["aegen", "report", "RUN", *option_argv(cfg)])) == cfg
    assert step_config(parse(["aegen", "report", "RUN"])) == ReportConfig()
