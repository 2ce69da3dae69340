"""``aegen attributes`` and ``aegen edit`` from the command line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from aegen.attributes import conditional
from aegen.cli import build_parser, main
from aegen.params import parse_params
from aegen.sample import training_zpoints
from test_attributes_fakes import gaussian_factory, make_fake_run
from test_attributes_generation import PixelJudge


@pytest.fixture
def fake_run(tmp_path, monkeypatch):
    run = make_fake_run(tmp_path)
    # Import every command's modules before the patch: a module that first imports open_run by
    # name while it is patched would keep the stand-in for the rest of the session.
    build_parser()
    monkeypatch.setattr("aegen.run.open_run", lambda path: run)  # the commands open "RUN" through it
    return run


def one_line_error(capsys, command):
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"aegen {command}: error:") and "\n" not in err
    return err


def test_attributes_cli_writes_summary(fake_run, capsys):
    assert main(["attributes", "RUN", "--attrs", "Smiling,Split", "--silhouette-points", "300", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "Smiling: linearly separable, no clusters" in out and "Split: clusters" in out
    summary = json.loads((fake_run.path / "attributes" / "summary.json").read_text())
    assert summary["random_state"] == 2 and list(summary["attributes"]) == ["Smiling", "Split"]


def test_attributes_cli_errors_are_one_line(fake_run, tmp_path, monkeypatch, capsys):
    assert main(["attributes", "RUN", "--attrs", "Wearing_Hat"]) == 2
    assert "valid names: Smiling, Male" in one_line_error(capsys, "attributes")
    assert main(["attributes", "RUN", "--silhouette-points", "2"]) == 2
    one_line_error(capsys, "attributes")
    unlabelled = make_fake_run(tmp_path / "other", with_attrs=False)
    monkeypatch.setattr("aegen.run.open_run", lambda path: unlabelled)
    assert main(["attributes", "RUN"]) == 2
    assert "no attribute labels" in one_line_error(capsys, "attributes")


def test_rate_cli_passes_conditions_and_params(fake_run, monkeypatch, capsys):
    seen = {}

    def fitted(run, method, params, where, progress=True):  # aegen sample's path, with a stand-in sampler
        seen.update(method=method, params=params)
        Z, _ = training_zpoints(run, where)
        return gaussian_factory("gaussian", params).fit(Z), {"n_zpoints": len(Z)}

    monkeypatch.setattr(conditional, "fitted_sampler", fitted)
    monkeypatch.setattr(conditional, "load_or_train_classifier", lambda *a, **k: PixelJudge())
    rc = main(["attributes", "RUN", "--rate", "--attrs", "Smiling", "--n", "50", "--method", "gaussian",
               "--param", "sigma=2.5", "--param", "label-text=x", "--where", "Smiling=true,Male=0", "--no-figures"])
    assert rc == 0
    assert seen == {"method": "gaussian", "params": {"sigma": 2.5, "label_text": "x"}}
    result = json.loads((fake_run.path / "attributes" / "conditional.json").read_text())
    assert [c["name"] for c in result["conditions"]][-1] == "Smiling=1,Male=-1"
    assert "Smiling: =1 ->" in capsys.readouterr().out
    assert main(["attributes", "RUN", "--rate", "--where", "Smiling=3"]) == 2
    one_line_error(capsys, "attributes")


def test_parse_params_one_rule_for_every_command():
    from aegen.params import format_value, parse_value, parse_values

    assert parse_params(["k=3", "fact=0.7", "on=true", "name=pca", "reg-covar=1e-5", "off=False", "m=none"]) == {
        "k": 3, "fact": 0.7, "on": True, "name": "pca", "reg_covar": 1e-5, "off": False, "m": None}
    for bad, message in ((["novalue"], "KEY=VALUE"), (["=3"], "KEY=VALUE"), (["a b=1"], "not a parameter name"),
                         (["k=1", "k=2"], "given twice")):
        with pytest.raises(ValueError, match=message):
            parse_params(bad)
    for value in ("auto", "3", "True", "none", " x", 0.001, [1, 2], None, True, "inf"):
        assert parse_value(format_value(value)) == value
    assert parse_values("0.5:0.7:0.1", "fact") == [0.5, 0.6, 0.7] and parse_values("1,2,2,auto", "k") == [1, 2, "auto"]
    with pytest.raises(ValueError, match="step"):
        parse_values("1:0:1", "k")


def test_edit_cli(fake_run, capsys):
    assert main(["edit", "RUN", "--image", "000801.jpg", "--image", "000003", "--attr", "Male",
                 "--strength", "-1:1:3", "--direction", "probe"]) == 0
    path = fake_run.path / "edits" / "000801+000003-Male.png"
    assert path.is_file() and str(path) in capsys.readouterr().out
    assert json.loads(path.with_suffix(".json").read_text())["direction"]["method"] == "probe"
    assert main(["edit", "RUN", "--image", "123456789.jpg", "--attr", "Male"]) == 2
    assert "no image with id" in one_line_error(capsys, "edit")
    assert main(["edit", "RUN", "--image", "000001.jpg", "--attr", "Male", "--strength", "1:2"]) == 2
    assert "START:STOP:NUM" in one_line_error(capsys, "edit")


# -- on a real (tiny) run: a copy of the session's run --------------------------------------------

@pytest.fixture(scope="module")
def tiny_run(tiny_run_template, tmp_path_factory):
    return shutil.copytree(tiny_run_template, tmp_path_factory.mktemp("tiny") / "run")


@pytest.mark.slow
def test_cli_on_a_tiny_trained_run(tiny_run, capsys):
    from aegen.run import Run

    run = Run.open(tiny_run)
    assert main(["attributes", str(tiny_run), "--attrs", "Smiling,Long_Hair", "--silhouette-points", "100"]) == 0
    summary = json.loads((tiny_run / "attributes" / "summary.json").read_text())
    assert summary["z_dim"] == run.z_dim and set(summary["attributes"]) == {"Smiling", "Long_Hair"}
    assert (tiny_run / "attributes" / "views-Smiling.png").is_file()

    image_id = str(run.zpoint_meta("train")["ids"][3])
    assert main(["edit", str(tiny_run), "--image", image_id, "--attr", "Smiling", "--strength", "-2:2:5"]) == 0
    strip = tiny_run / "edits" / f"{image_id.rsplit('.', 1)[0]}-Smiling.png"
    assert strip.is_file()
    assert len(json.loads(strip.with_suffix(".json").read_text())["columns"]) == 7


@pytest.mark.slow
def test_rate_on_a_tiny_trained_run(tiny_run, capsys):
    rc = main(["attributes", str(tiny_run), "--rate", "--attrs", "Smiling", "--n", "16", "--method", "gaussian",
               "--classifier-epochs", "1"])
    assert rc == 0
    result = json.loads((tiny_run / "attributes" / "conditional.json").read_text())
    assert result["classifier"]["n_train"] == len(np.load(tiny_run / "zpoints" / "train.npy"))
    assert 0 <= result["attributes"]["Smiling"]["positive_share_when_requested"] <= 1
    assert (tiny_run / "attributes" / "classifier" / "model.safetensors").is_file()
