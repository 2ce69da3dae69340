"""The evaluation's result types: rows with intervals, paired differences, one list of columns."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest

from aegen.evaluate.metrics.intervals import GramPair, Interval
from aegen.evaluate.metrics.distances import fid_from_features, kid
from aegen.evaluate.metrics.scores import feature_scores
from aegen.evaluate.protocol.record import EvalProtocol
from aegen.evaluate.protocol.rows import CHECKS, COLUMNS, DISTRIBUTION, EvalResult, EvalRow, PairedDifferences
from aegen.evaluate.tables import markdown_table

# A row as aegen evaluate writes it now (version 2), every kind of field present.
NEW_ROW = {
    "method": "gmm", "kind": "sampler", "params": {"n_components": 4}, "n": 50,
    "fid": 41.2, "fid_low": 39.0, "fid_high": 43.5, "fid_interval": "95% normal bootstrap interval, 50 replicates",
    "kid": 0.0123, "kid_low": 0.0101, "kid_high": 0.0145, "kid_interval": "95% normal bootstrap interval, 50 replicates",
    "face_rate": 0.9, "face_rate_low": 0.8, "face_rate_high": 0.95, "face_rate_interval": "95% Wilson interval, 50 images",
    "fid_inf": 30.0, "fid_inf_low": 25.0, "fid_inf_high": 35.0, "fid_inf_interval": "95% t interval",
    "precision": 0.5, "recall": 0.25, "density": 0.8, "coverage": 0.6,
    "reference": {"split": "heldout", "n": 50, "seed": 7},
    "fid_inf_fit": {"n": [12, 50], "fid_n": [60.0, 41.0], "slope": 1.0, "note": ""},
    "fid_repeat_values": [41.2], "nn_train_median": 0.2, "copy_z": -4.2, "copy_excess": 0.8, "copy_flagged": True,
    "copy_items_total": 3, "latent_copy_z": None, "latent_copy_applicable": False, "latent_in_band": 0.9,
    "latent_radius_ks": 0.12, "latent_radius_median": 16.0, "latent_loglik": -1.25, "latent_loglik_se": 0.01,
    "seconds": {"total": 1.5}, "notes": ["deterministic fit"],
}

# metrics.json as the first evaluations wrote it: no version, no kinds, no interval labels, no
# face-rate interval, no reference split, no differences.
OLD_RESULT = {
    "rows": [{"method": "gaussian", "n": 8, "fid": 90.5, "fid_low": None, "fid_high": None, "kid": 0.05,
              "precision": 0.25, "recall": 0.5, "density": 0.7, "coverage": 0.5, "face_rate": 0.875,
              "nn_train_median": 0.31, "copy_z": 0.4, "latent_in_band": 0.9, "latent_radius_ks": 0.2,
              "notes": []},
             {"method": "real", "n": 8, "fid": 70.0, "kid": 0.01, "face_rate": None}],
    "protocol": {"n": 8, "seed": 0, "image_size": 32, "features": {"id": "pixels-16x16", "name": "pixels 16x16"},
                 "reference": {"n": 8, "n_train_reference": 8}},
}


def test_a_row_keeps_the_keys_of_metrics_json():
    row = EvalRow.from_dict(NEW_ROW)
    assert row.fid == Interval(41.2, 39.0, 43.5, NEW_ROW["fid_interval"]) and row.face_rate.low == 0.8
    assert row.label == "gmm(n_components=4)" and row.against_heldout and row.copy_verdict().flagged
    assert not row.copy_verdict("latent_").applicable and row.value("latent_in_band") == 0.9
    assert row.to_dict() == NEW_ROW
    result = EvalResult([row], PairedDifferences.from_dict({"fid": [
        {"a": "gmm", "b": "real", "difference": 1.0, "low": 0.5, "high": 1.5, "significant": True, "interval": "x"}]}),
        EvalProtocol.from_dict({}))
    again = EvalResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.version == 2 and again.rows[0].to_dict() == NEW_ROW
    turned = again.differences.between("fid", "real", "gmm")
    assert (turned.difference, turned.low, turned.high, turned.significant) == (-1.0, -1.5, -0.5, True)


def test_an_old_metrics_json_still_reads_renders_and_reports(tmp_path):
    from aegen.report.section_eval import eval_section

    result = EvalResult.from_dict(OLD_RESULT)
    assert result.version == 1 and result.rows[1].kind == "sampler" and result.rows[0].kid.low is None
    table = markdown_table(result.rows, result.protocol, with_caption=False, differences=result.differences)
    assert "| `gaussian` | 8 | 90.5 | 50.00 | 0.250 | 0.500 |" in table and "87.5% |" in table
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "metrics.json").write_text(json.dumps(OLD_RESULT))
    section = eval_section(types.SimpleNamespace(path=tmp_path))
    tables = [b for b in section.blocks if type(b).__name__ == "Table"]
    assert len(tables) == 2 and tables[0].rows[0][:3] == ["`gaussian`", "8", "90.5"]


def test_every_table_takes_its_columns_from_one_declaration(tmp_path):
    from aegen.report.section_eval import metrics_table

    rows = [EvalRow.from_dict(NEW_ROW)]
    protocol = EvalProtocol.from_dict({"n": 50, "features": {"id": "pixels-16x16"}, "reference": {"n": 40}})
    markdown = markdown_table(rows, protocol, with_caption=False).splitlines()[0]
    assert markdown == "| method | " + " | ".join(c.title(protocol) for c in COLUMNS) + " |"
    html = [metrics_table(rows, protocol, group=group) for group in (DISTRIBUTION, CHECKS)]
    assert [h for t in html for h in t.headers if h != "method"] == [c.title(protocol, arrows=True) for c in COLUMNS]
    # The report shows the face rate's interval as metrics.md does.
    assert html[0].rows[0][html[0].headers.index("faces [95%] ↑")] == "90.0% [80, 95]"


@pytest.mark.parametrize("n, m, d", [(12, 12, 5), (30, 30, 64)])
def test_fid_value_and_interval_come_from_one_function(n, m, d):
    from aegen.evaluate.protocol.references import ReferenceFeatures
    from aegen.evaluate.protocol.summary import finish_rows

    rng = np.random.default_rng(n)
    reference, fake = rng.normal(size=(n, d)), rng.normal(0.3, 1.0, size=(m, d))
    scores, note = feature_scores(reference, fake, pr_k=3, dc_k=5)
    pair = GramPair(reference, fake)
    assert scores["fid"] == pair.fid() and scores["kid"] == pair.kid() and note is None
    assert scores["fid"] == pytest.approx(fid_from_features(reference, fake), rel=1e-9)
    assert scores["kid"] == pytest.approx(kid(reference, fake, n_subsets=1, subset_size=n)[0], rel=1e-9, abs=1e-12)
    # The bootstrap interval is centred on that same value.
    row = {"method": "a", "params": {}, "reference": {"split": "heldout"}, "fid_repeats": [scores["fid"]],
           "kid_repeats": [scores["kid"]]}
    scored = types.SimpleNamespace(row=row, features=[fake], set_fits=None, loglik_values=None)
    features = ReferenceFeatures(reference, reference @ reference.T, reference, reference @ reference.T)
    finish_rows([scored], features, seed=0, n=m, bootstrap=20)
    assert row["fid"] == pair.fid() and row["fid_low"] + row["fid_high"] == pytest.approx(2 * row["fid"])
