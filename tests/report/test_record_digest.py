"""A record's numbers are checked against what its run wrote: the metrics digest and the per-item evaluation files it
carries (runs.digest), and each metric's possible range. An edited record is marked (or, strict, left out)."""

from __future__ import annotations

import json
import warnings

import pytest
from report_records import make_record

from alignbench.report.results import FlaggedRecord, aggregate, read_records, records_frame
from alignbench.runs.record import RECORD, RunRecord

ITEMS = '{"prompt": "2+2?", "output": "4", "score": 1}\n'


def written(run_dir, **metrics) -> RunRecord:
    """A completed run as the pipeline leaves it: an item file, then the record (which digests both)."""
    (run_dir / "eval").mkdir(parents=True)
    (run_dir / "eval" / "mmlu.jsonl").write_text(ITEMS)
    record = RunRecord.from_json(make_record(metrics=metrics or {"eval/mmlu/acc": 0.25, "eval/mmlu/items": 40}))
    record.run_dir = str(run_dir)
    record.write(run_dir)
    return record


def read(*paths, strict=False):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records, unreadable = read_records(paths, strict=strict)
    return records, unreadable, [str(w.message) for w in caught if issubclass(w.category, FlaggedRecord)]


def edit(path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def test_an_untouched_record_carries_digests_and_is_not_flagged(tmp_path):
    written(tmp_path / "run")
    data = json.loads((tmp_path / "run" / RECORD).read_text())
    assert set(data["digest"]["items"]) == {"eval/mmlu.jsonl"} and len(data["digest"]["metrics"]) == 64
    records, unreadable, flagged = read(tmp_path)
    assert len(records) == 1 and unreadable == [] and flagged == []
    assert records_frame(records)["flags"].eq("").all()


def test_a_hand_edited_metric_is_marked_and_left_out_when_strict(tmp_path):
    written(tmp_path / "run")
    edit(tmp_path / "run" / RECORD, lambda d: d["metrics"].update({"eval/mmlu/acc": 0.9}))
    records, unreadable, flagged = read(tmp_path)
    problem = "its metrics do not match the digest written with them (edited after the run)"
    assert flagged == [f"{tmp_path / 'run' / RECORD}: {problem}"] and unreadable == []
    frame = records_frame(records)
    assert frame["flags"].unique().tolist() == [problem]
    assert frame.attrs["flagged"] == {str(tmp_path / "run"): [problem]}
    records, unreadable, _ = read(tmp_path, strict=True)
    assert records == [] and unreadable == [str(tmp_path / "run" / RECORD)]


def test_a_changed_item_file_is_named(tmp_path):
    written(tmp_path / "run")
    (tmp_path / "run" / "eval" / "mmlu.jsonl").write_text(ITEMS.replace('"score": 1', '"score": 0'))
    _, _, flagged = read(tmp_path)
    assert flagged == [
        f"{tmp_path / 'run' / RECORD}: eval/mmlu.jsonl changed after the run (sha256 differs from the record's)"
    ]


def test_records_copied_without_their_item_files_or_written_before_digests_are_not_flagged(tmp_path):
    written(tmp_path / "run")
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / RECORD).write_bytes((tmp_path / "run" / RECORD).read_bytes())  # the record alone
    old = make_record(metrics={"eval/mmlu/acc": 0.3})  # no digest: nothing to check it against
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / RECORD).write_text(json.dumps(old))
    records, unreadable, flagged = read(tmp_path / "copy", tmp_path / "old")
    assert len(records) == 2 and unreadable == [] and flagged == []


@pytest.mark.parametrize(
    "key, value, bounds",
    [("eval/mmlu/acc", 7.5, "[0, 1]"), ("eval/alpaca_eval/win_rate", 130.0, "[0, 100]"),
     ("baseline/pref/accuracy", -0.1, "[0, 1]"), ("eval/mmlu/items", -4, "[0, inf]")],
)  # fmt: skip
def test_a_value_outside_its_metrics_range_is_flagged_and_never_averaged(tmp_path, key, value, bounds):
    record = make_record(metrics={key: value, "eval/bbh/exact_match": 0.5})
    (tmp_path / RECORD).write_text(json.dumps(record))
    records, _, flagged = read(tmp_path)
    assert flagged == [f"{tmp_path / RECORD}: {key}={value:g} outside {bounds}"]
    means = aggregate(records_frame(records), ["model"])
    assert key.split("/")[-1] not in means["metric"].tolist()  # the impossible value is not a result
    assert means["metric"].tolist() == ["exact_match"]  # the run's other numbers still count


def test_the_report_says_which_run_is_flagged_and_strict_leaves_it_out(tmp_path, capsys):
    from alignbench.report.__main__ import main

    for seed in (0, 1):
        written(tmp_path / "sweep" / f"run{seed}")
    edit(tmp_path / "sweep" / "run1" / RECORD, lambda d: d["metrics"].update({"eval/mmlu/acc": 0.9}))
    problem = "its metrics do not match the digest written with them (edited after the run)"

    assert main([str(tmp_path / "sweep"), "--out", str(tmp_path / "report")]) == 0
    shown = capsys.readouterr().out
    assert f"flagged (kept; --strict leaves it out): {tmp_path / 'sweep' / 'run1'}: {problem}" in shown
    assert "runs 2: 2 completed" in shown
    assert (
        f"Flagged, its numbers are not what the run wrote: {tmp_path / 'sweep' / 'run1'}: {problem}."
        in (tmp_path / "report" / "index.md").read_text()
    )

    assert main([str(tmp_path / "sweep"), "--out", str(tmp_path / "report"), "--strict"]) == 0
    captured = capsys.readouterr()
    assert "runs 1: 1 completed" in captured.out and "flagged" not in captured.out
    assert f"warning: skipped {tmp_path / 'sweep' / 'run1' / RECORD}: {problem} (left out: --strict)" in captured.err
