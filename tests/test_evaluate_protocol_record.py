"""The evaluation's protocol as a type: EvalProtocol reads metrics.json's ``protocol`` and writes it back unchanged."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace

import pytest

from aegen.cli import main
from aegen.evaluate.protocol.config import EvaluateConfig
from aegen.evaluate.protocol.record import EvalProtocol, ReferenceSet
from aegen.evaluate.protocol.rows import EvalResult
from aegen.evaluate.tables import markdown_table

SENTINEL = object()
EVALUATE = ["--methods", "gaussian", "--n", "8", "--bootstrap", "0", "--features", "pixels", "--no-faces", "--quiet",
            "--no-figures"]


@pytest.fixture(scope="module")
def evaluated_run(tiny_run_template, tmp_path_factory):
    """A copy of the session's tiny run, evaluated once for the module (gaussian and the reference rows, N = 8)."""
    run = shutil.copytree(tiny_run_template, tmp_path_factory.mktemp("protocol") / "run")
    assert main(["evaluate", str(run), *EVALUATE]) == 0
    return run


def unwritten_fields(record, recorded: dict) -> list[str]:
    """The typed fields of ``record`` that are not a key of ``recorded`` or that to_dict does not write back."""
    unwritten = []
    for f in type(record).typed_fields():
        changed = replace(record, **{f.name: SENTINEL}).to_dict()
        if f.name not in recorded or changed.get(f.name) is not SENTINEL:
            unwritten.append(f.name)
    return unwritten


def test_a_real_protocol_round_trips_to_the_same_file(evaluated_run):
    text = (evaluated_run / "eval" / "metrics.json").read_text()
    recorded = json.loads(text)
    protocol = EvalProtocol.from_dict(recorded["protocol"])
    assert protocol.to_dict() == recorded["protocol"]
    assert list(protocol.to_dict()) == list(recorded["protocol"])  # the keys keep their order too
    assert json.dumps(EvalResult.from_dict(recorded).to_dict(), indent=2) + "\n" == text
    assert (protocol.n, protocol.seed, protocol.repeats, protocol.fit_seeds, protocol.bootstrap) == (8, 0, 1, 1, 0)
    assert protocol.image_size == 32 and protocol.z_dim == 16 and protocol.seeds["heldout-reference"] == protocol.reference.seed
    assert isinstance(protocol.reference, ReferenceSet) and protocol.reference.n == 8
    assert protocol.reference.details["reconstruction_disjoint_from_reference"] is True
    assert protocol.features["id"] == "pixels-16x16" and protocol.skipped["face_rate"] == "face detection turned off"
    assert protocol.precision_recall["k"] == 3 and "copy_guard" in protocol.latent_check
    assert {"fid", "kid", "intervals", "cache", "timings_s"} <= set(protocol.details)
    # metrics.md renders the same from the typed protocol and from its dict.
    result = EvalResult.from_dict(recorded)
    written = (evaluated_run / "eval" / "metrics.md").read_text()
    for given in (result.protocol, recorded["protocol"]):
        assert markdown_table(result.rows, given, title=f"Evaluation of {evaluated_run.name}",
                              differences=result.differences) == written


def test_every_typed_field_is_a_key_of_metrics_json_and_written_back(evaluated_run):
    recorded = json.loads((evaluated_run / "eval" / "metrics.json").read_text())["protocol"]
    protocol = EvalProtocol.from_dict(recorded)
    assert unwritten_fields(protocol, recorded) == []
    assert unwritten_fields(protocol.reference, recorded["reference"]) == []

    # A field added to the type under a name metrics.json does not have would never be written: caught.
    @dataclass(frozen=True)
    class WithAnotherSetting(EvalProtocol):
        another_setting: int | None = None

    assert unwritten_fields(WithAnotherSetting.from_dict(recorded), recorded) == ["another_setting"]


def test_a_protocol_built_in_code_writes_its_fields_then_its_details():
    protocol = EvalProtocol(n=8, reference=ReferenceSet(n=4), details={"fid": {"note": "x"}})
    written = protocol.to_dict()
    assert written["n"] == 8 and written["reference"]["n"] == 4 and written["repeats"] is None
    assert list(written)[-1] == "fid" and EvalProtocol.from_dict(written).to_dict() == written
    assert EvalProtocol.from_dict(None).to_dict() == {} and EvalProtocol.from_dict(protocol) is protocol


def test_an_old_layout_file_reads_and_reports(evaluated_run, tmp_path):
    run = shutil.copytree(evaluated_run, tmp_path / "run")
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    del metrics["version"]
    for key in ("repeats", "fit_seeds", "bootstrap", "batch_size", "split_rule"):
        del metrics["protocol"][key]
    del metrics["protocol"]["reference"]["reconstruction_rows"]
    (run / "eval" / "metrics.json").write_text(json.dumps(metrics))

    result = EvalResult.from_dict(metrics)
    protocol = result.protocol
    assert result.version == 1 and protocol.repeats is None and protocol.batch_size is None
    assert protocol.reference.reconstruction_rows is None
    assert result.to_dict()["protocol"] == metrics["protocol"] and "repeats" not in protocol.to_dict()
    # The table reads an absent setting as the old evaluations had it: one set, no bootstrap.
    table = markdown_table(result.rows, protocol)
    assert "1 set(s) per sampler (seeds 0..0)" in table and "one set, no interval" in table
    assert "(row `reconstruction`: 8 other held-out images" in table
    # What the file lacks is left to the config's defaults.
    config = EvaluateConfig.from_record(metrics)
    assert (config.n, config.bootstrap, config.repeats, config.batch_size) == (8, 100, 1, 32)

    assert main(["report", str(run), "--out", str(tmp_path / "report"), "--no-explorer"]) == 0
    page = (tmp_path / "report" / "index.html").read_text()
    assert "could not be built" not in page and "1 set(s) per sampler" in page
    assert "this evaluation wrote its numbers only" in page  # evaluated with --no-figures
    assert "The evaluation protocol in full" in page and "reconstruction_disjoint_from_reference" in page
