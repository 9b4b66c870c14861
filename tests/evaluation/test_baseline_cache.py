"""The cached baseline of a base: verified before use, set aside and recomputed when damaged, keyed on its code."""

from __future__ import annotations

import json
import logging
import math

from alignbench.evaluation import baseline
from alignbench.evaluation.baseline import read_entry, write_entry

RESULT = {
    "metrics": {"baseline/mmlu/acc": 0.25, "baseline/mmlu/items": 40},
    "errors": {},
    "judges": {"mmlu": "lm-eval mmlu_sample"},
    "sources": {"mmlu": "bundled"},
}


def test_an_entry_reads_back_as_written(tmp_path):
    write_entry(tmp_path / "baseline.json", RESULT)
    assert read_entry(tmp_path / "baseline.json") == RESULT
    assert read_entry(tmp_path / "absent.json") is None


def test_a_hand_edited_score_is_set_aside_named_and_never_used(tmp_path, caplog):
    path = tmp_path / "baseline.json"
    write_entry(path, RESULT)
    entry = json.loads(path.read_text())
    entry["result"]["metrics"]["baseline/mmlu/acc"] = 0.90  # valid JSON, wrong number
    path.write_text(json.dumps(entry))
    with caplog.at_level(logging.WARNING):
        assert read_entry(path) is None
    assert not path.exists()
    (aside,) = tmp_path.glob("baseline.json.damaged-*")
    assert json.loads(aside.read_text())["result"]["metrics"]["baseline/mmlu/acc"] == 0.90  # kept for inspection
    (line,) = [r.getMessage() for r in caplog.records]
    assert str(path) in line and "does not match its checksum" in line and aside.name in line


def test_a_truncated_or_old_entry_heals(tmp_path, caplog):
    path = tmp_path / "baseline.json"
    path.write_text('{"metrics": {"baseline/mmlu/acc": 0.2')  # a torn copy
    with caplog.at_level(logging.WARNING):
        assert read_entry(path) is None
    assert "unreadable (JSONDecodeError)" in caplog.records[0].getMessage()
    path.write_text(json.dumps(RESULT))  # an entry from before checksums: not trusted either
    assert read_entry(path) is None and len(list(tmp_path.glob("baseline.json.damaged-*"))) == 2


def test_a_nan_score_round_trips(tmp_path):
    nan = {**RESULT, "metrics": {"baseline/mmlu/acc": math.nan}}
    write_entry(tmp_path / "baseline.json", nan)
    back = read_entry(tmp_path / "baseline.json")
    assert back is not None and back["metrics"]["baseline/mmlu/acc"] is None and back["metrics"]["nonfinite"]


def test_the_key_follows_the_libraries_that_compute_it(compose, monkeypatch):
    from omegaconf import OmegaConf

    from alignbench.runs import dirs

    cfg = OmegaConf.to_object(compose([]))
    before = baseline.baseline_key(cfg, "mmlu")
    assert baseline.baseline_key(cfg, "mmlu") == before and "lm-eval" in dirs.library_versions()
    for name in ("lm-eval", "transformers", "torch", "peft"):  # an upgrade of any of them: a miss, never a stale score
        upgraded = {**dirs.library_versions(), name: "9.9.9"}
        monkeypatch.setattr(dirs, "library_versions", lambda upgraded=upgraded: upgraded)
        assert baseline.baseline_key(cfg, "mmlu") != before, name
        monkeypatch.undo()
