"""``aegen report``: one self-contained page built from whatever a run folder holds."""

from __future__ import annotations

import base64
import html
import json
import shlex
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from aegen.cli import build_parser, main
from conftest import TINY_DATA, TINY_Z_DIM

SECTIONS = ("run", "latent", "explorer", "samples", "evaluation", "attributes", "protocol")
_BUILT: dict[str, Path] = {}


def full_run_steps(run: Path) -> list[list[str]]:
    """Every pipeline step after train and encode, sized to take seconds."""
    r = str(run)
    return [
        ["analyze", r, "--test-points", "100"],
        ["sample", r, "--method", "ellipse-pca", "--n", "16", "--n-components", "8", "--fact", "0.6"],
        ["sample", r, "--method", "gaussian", "--n", "16", "--no-figures", "--where", "Smiling=1"],
        ["evaluate", r, "--methods", "gaussian,uniform", "--n", "8", "--features", "pixels", "--no-faces", "--quiet"],
        ["sweep", r, "--method", "gaussian", "--param", "reg_covar=1e-6,0.001", "--n", "8", "--features", "pixels",
         "--no-faces", "--quiet"],
        ["attributes", r, "--silhouette-points", "100"],
        ["attributes", r, "--rate", "--n", "8", "--classifier-epochs", "1", "--attrs", "Smiling,Eyeglasses",
         "--where", "Smiling=1,Eyeglasses=-1"],
        ["edit", r, "--image", "synth-0000003", "--attr", "Smiling"],
    ]


def build_full_run(folder: Path, trained: Path) -> Path:
    """A copy of the trained and encoded run ``trained`` with every other step, built once per
    test session (shared with the browser test)."""
    if str(folder) not in _BUILT:
        run = Path(shutil.copytree(trained, folder / "run"))
        for argv in full_run_steps(run):
            assert main(argv) == 0, f"aegen {' '.join(argv)} failed"
        _BUILT[str(folder)] = run
    return _BUILT[str(folder)]


@pytest.fixture(scope="session")
def full_run(tmp_path_factory, tiny_run_template) -> Path:
    return build_full_run(tmp_path_factory.getbasetemp() / "report-full-run", tiny_run_template)


@pytest.fixture
def trained_only(full_run, tmp_path) -> Path:
    """A copy of the full run holding only what `aegen train` writes."""
    run = tmp_path / "trained"
    run.mkdir()
    for name in ("config.json", "split.npz", "train_log.csv", "recon_grid.png"):
        shutil.copy(full_run / name, run / name)
    shutil.copytree(full_run / "checkpoints", run / "checkpoints")
    return run


class Page(HTMLParser):
    """What the tests look at: sections with their classes, images, highlighted rows, code blocks."""

    def __init__(self, text: str):
        super().__init__()
        self.sections: dict[str, str] = {}
        self.images: list[str] = []
        self.links: list[str] = []
        self.highlighted: list[str] = []
        self.code: list[str] = []
        self.tags: set[str] = set()
        self.scripts: list[dict] = []
        self._row: list[str] | None = None
        self._in_code = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "section":
            self.sections[attrs["id"]] = attrs.get("class") or ""
        elif tag == "script":
            self.scripts.append(attrs)
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag in ("a", "link") and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "tr" and "highlight" in (attrs.get("class") or ""):
            self._row = []
        elif tag == "pre":
            self._in_code = True
            self.code.append("")

    def handle_endtag(self, tag):
        if tag == "tr" and self._row is not None:
            self.highlighted.append(" ".join(self._row))
            self._row = None
        elif tag == "pre":
            self._in_code = False

    def handle_data(self, data):
        if self._row is not None:
            self._row.append(data.strip())
        if self._in_code:
            self.code[-1] += data


def read_page(index: Path) -> tuple[str, Page]:
    text = index.read_text(encoding="utf-8")
    return text, Page(text)


def test_a_full_run_fills_every_section(full_run, tmp_path):
    from aegen.report import write_report

    index = write_report(full_run)
    assert index == full_run / "report" / "index.html"
    text, page = read_page(index)
    assert list(page.sections) == list(SECTIONS)
    assert all("omitted" not in cls for cls in page.sections.values()), page.sections
    assert "could not be built" not in text
    # Each step's figures are on the page, copied beside it.
    for src in page.images:
        assert (index.parent / src).is_file(), src
    names = " ".join(page.images)
    for expected in ("training-curve", "recon_grid", "analysis-location", "samples-ellipse-pca-grid",
                     "samples-ellipse-pca-pca_plane", "samples-gaussian-Smiling", "eval-metrics", "eval-sweeps-gaussian",
                     "attributes-overview", "attributes-conditional", "edits-synth-0000003-Smiling"):
        assert expected in names, expected
    assert "wrote its numbers only" not in text
    # The two reference rows are highlighted: in both evaluation tables and among the sweep's baselines.
    assert sum(row.startswith("reconstruction") for row in page.highlighted) == 3
    assert sum(row.startswith("real") for row in page.highlighted) == 3
    assert not any(row.startswith(("gaussian", "uniform")) for row in page.highlighted)


def test_analysis_headline_numbers_come_from_summary_json(full_run, tmp_path):
    from aegen.report import write_report
    from aegen.report.sources import num, pct

    summary = json.loads((full_run / "analysis" / "summary.json").read_text())
    others = tuple(anchor for anchor in SECTIONS if anchor != "latent")  # the latent section's page alone
    text, _ = read_page(write_report(full_run, out_dir=tmp_path / "report", explorer=False, leave_out=others))
    pca, location = summary["pca"], summary["location"]
    assert (f"{num(pca['n_components_90'])} / {num(pca['n_components_99'])} of {summary['dim']}"
            in html.unescape(text))
    assert num(location["centre_norm_over_rms_spread"]) in text
    for entry in summary["normality"]["fraction_beyond"]:
        assert f"{pct(entry['fraction_beyond'])} (normal: {pct(entry['expected'])})" in text
    assert "All numbers of the analysis" in text  # the rest, collapsed


def test_a_trained_only_run_omits_the_other_sections_with_their_commands(trained_only):
    from aegen.report import write_report

    text, page = read_page(write_report(trained_only))
    assert "omitted" not in page.sections["run"] and "omitted" not in page.sections["protocol"]
    hints = {"latent": f"aegen analyze {trained_only}", "samples": f"aegen sample {trained_only} --method ellipse-pca",
             "evaluation": f"aegen evaluate {trained_only}", "attributes": f"aegen attributes {trained_only}"}
    for anchor, command in hints.items():
        assert "omitted" in page.sections[anchor]
        assert f"<code>{html.escape(command)}</code>" in text
    assert any("training-curve" in src for src in page.images)
    assert any("recon_grid" in src for src in page.images)
    (script,) = page.code
    assert [line.split()[1] for line in script.splitlines() if line.startswith("aegen")] == ["train", "report"]


def test_data_without_attribute_labels_says_so_instead_of_a_command(trained_only):
    from aegen.report import write_report

    config = json.loads((trained_only / "config.json").read_text())
    config["data"]["attr_names"] = []
    (trained_only / "config.json").write_text(json.dumps(config))
    text, page = read_page(write_report(trained_only))
    assert "omitted" in page.sections["attributes"]
    assert "no attribute labels" in text and f"aegen attributes {trained_only}" not in text


def test_the_report_folder_works_after_being_moved(full_run, tmp_path):
    from aegen.report import write_report

    index = write_report(full_run, out_dir=tmp_path / "report")
    moved = tmp_path / "elsewhere"
    shutil.move(str(tmp_path / "report"), moved)
    text, page = read_page(moved / "index.html")
    assert page.images and all((moved / src).is_file() for src in page.images)
    assert not {"link", "iframe"} & page.tags
    # explorer.js is inline and the runtime's scripts are inside the page as base64 of gzip (run
    # from a blob: URL), so the page's text names no web address at all.
    assert not any("src" in attrs for attrs in page.scripts) and "aegen-explorer-tfjs" in text
    assert "http://" not in text and "https://" not in text and "url(" not in text
    assert all(not href.startswith(("/", "http", "file:")) for href in page.links)
    assert not index.exists()


def test_embedding_writes_a_single_file(full_run, tmp_path):
    from aegen.report import write_report

    index = write_report(full_run, out_dir=tmp_path / "single", embed=True)
    assert sorted(p.name for p in index.parent.iterdir()) == ["index.html"]
    _, page = read_page(index)
    assert page.images
    for src in page.images:
        data = base64.b64decode(src.split(",", 1)[1])
        if src.startswith("data:image/webp;base64,"):
            assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
        else:
            assert src.startswith("data:image/png;base64,") and data[:8] == b"\x89PNG\r\n\x1a\n"


def test_strings_from_the_run_files_are_escaped(trained_only):
    from aegen.report import write_report

    evil = "<script>alert(1)</script>"
    folder = trained_only / "samples" / "x"
    folder.mkdir(parents=True)
    shutil.copy(trained_only / "recon_grid.png", folder / "grid.png")
    (folder / "params.json").write_text(json.dumps({"method": evil, "n": 4, "seed": 0, "params": {"k": evil}}))
    text, page = read_page(write_report(trained_only))
    assert evil not in text and "script" not in page.tags
    assert html.escape(evil) in text


def test_a_corrupt_file_spoils_only_its_own_section(trained_only):
    from aegen.report import write_report

    (trained_only / "analysis").mkdir()
    (trained_only / "analysis" / "summary.json").write_text("{not json")
    text, page = read_page(write_report(trained_only))
    assert list(page.sections) == list(SECTIONS)
    assert "could not be built" in text and "summary.json" in text
    assert "omitted" not in page.sections["run"]


def test_the_commands_parse_back_to_the_recorded_settings(full_run):
    from aegen.cli.common import step_config
    from aegen.cli.sample import method_params
    from aegen.report import reproduction_commands
    from aegen.run import Run

    steps = reproduction_commands(Run.open(full_run))
    parser = build_parser()
    parsed = {}
    for _, argv in steps:
        assert argv[0] == "aegen"
        parsed.setdefault(argv[1], []).append(parser.parse_args(argv[1:]))
    assert list(parsed) == ["train", "encode", "analyze", "sample", "evaluate", "sweep", "attributes", "edit",
                            "report"]
    config = json.loads((full_run / "config.json").read_text())
    train = parsed["train"][0]
    recorded = {**config["model"], **config["train"], "cache_dir": config["data"]["cache_dir"]}
    for key, value in vars(train).items():
        if key not in ("func", "command", "out"):
            assert recorded[key] == (list(value) if isinstance(value, tuple) else value), key
    assert (train.data, train.image_size, train.z_dim, train.epochs) == (TINY_DATA, 32, TINY_Z_DIM, 1)
    samples = [step_config(args) for args in parsed["sample"]]
    for args, sample in zip(parsed["sample"], samples):
        folder = full_run / "samples" / (sample.out_name or sample.method)
        recorded = json.loads((folder / "params.json").read_text())
        assert method_params(args) == recorded["params"]
        assert (sample.n, sample.seed) == (recorded["n"], recorded["seed"])
    assert samples[1].where == "Smiling=1" and samples[0].figures is True
    assert samples[1].figures is False
    evaluate = parsed["evaluate"][0]
    assert (evaluate.methods, evaluate.n, evaluate.features, evaluate.faces) == ("gaussian,uniform", 8, "pixels", False)
    sweep = parsed["sweep"][0]
    assert sweep.param == ["reg_covar=1e-06,0.001"] and sweep.baselines == "reconstruction,real"
    rate = [c for c in map(step_config, parsed["attributes"]) if c.rate]
    assert rate and rate[0].where == ("Smiling=1,Eyeglasses=-1",) and rate[0].attrs == "Smiling,Eyeglasses"
    edit = parsed["edit"][0]
    assert (edit.image, edit.attr, edit.strength) == (["synth-0000003"], "Smiling", "-2,-1,0,1,2")


def test_cli_writes_the_report_and_prints_its_path(trained_only, tmp_path, capsys):
    assert main(["report", str(trained_only), "--out", str(tmp_path / "r")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "r" / "index.html")
    assert (tmp_path / "r" / "index.html").is_file()
    assert main(["report", str(tmp_path / "no-such-run")]) == 2
    assert "no such run folder" in capsys.readouterr().err


@pytest.mark.parametrize("value, text", [(17999, "17,999"), (0.97424, "0.974"), (1e-06, "1.00e-06"),
                                         (14394.96, "14,395"), (None, "—"), (float("nan"), "—")])
def test_numbers_are_formatted_for_reading(value, text):
    from aegen.report.sources import num

    assert num(value) == text


def test_the_command_script_splits_back_into_the_commands():
    from aegen.params import format_value as param_value
    from aegen.report.commands import commands_script

    argv = ["aegen", "sample", "my run", "--param", f"name={param_value('1')}"] + ["--param", "key=" + "v" * 30] * 5
    script = commands_script([("sample", argv)])
    comment, *lines = script.splitlines()
    assert comment == "# sample" and len(lines) > 1 and all(len(line) <= 102 for line in lines)
    assert shlex.split(" ".join(line.rstrip("\\") for line in lines)) == argv
    assert json.loads(param_value("1")) == "1" and param_value("auto") == "auto" and param_value([1, 2]) == "[1,2]"


def test_the_run_section_names_the_samplable_options_a_run_was_trained_with():
    """A preset run's report says what made it more than the seed's autoencoder; the seed's AE shows none."""
    from aegen.report.section_run import training_rows
    from aegen.train_config import TrainConfig

    def rows(cfg):
        return dict(training_rows({"train": cfg.settings(), "model": cfg.model.to_dict()}, None))

    preset = rows(TrainConfig(preset="samplable", lr_schedule="cosine", latent_noise=0.25))
    assert preset["`--preset`"] == "samplable" and preset["`--flip`"] == "yes" and preset["`--adversarial`"] == "0.1"
    assert preset["`--upsampling`"] == "nearest" and preset["`--latent-noise`"] == "0.25"
    assert preset["learning-rate schedule"] == "cosine"
    assert not [label for label in rows(TrainConfig()) if label.startswith("`--")]
    # a record this aegen cannot read loses only these rows
    assert "epochs" in dict(training_rows({"train": {"epochs": 3, "lr_schedule": "bogus"}}, None))
