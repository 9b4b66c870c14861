"""Settings are chosen among completed runs only: a failed setting, however common, never hides completed runs."""

from __future__ import annotations

from report_records import make_record, write_records

from alignbench.report import build_report
from alignbench.report.results import records_frame
from alignbench.report.tables import study_tables


def _records():
    done = [make_record(method="dpo", seed=s, metrics={"eval/mmlu/acc": 0.3 + s / 100}) for s in range(5)]
    # The most common setting is one whose runs all failed (a bad step count, launched once more than the good one).
    failed = [make_record(method="dpo", seed=s, steps=40, status="failed") for s in range(6)]
    # A failed seed of the completed configuration is counted in its cell.
    failed.append(make_record(method="dpo", seed=5, status="failed"))
    return done + failed


def test_a_failed_setting_that_is_the_most_common_never_drops_the_completed_runs():
    tables = [t for t in study_tables(records_frame(_records())) if t.name.startswith("main_lora")]
    assert [t.name for t in tables] == ["main_lora"]  # not split into a table of failures and one of results
    (table,) = tables
    assert table.counts["completed"] == 5 and table.counts["failed"] == 1
    assert table.display.loc[("beavertails", "tiny_llama", "harmless"), "MMLU"].endswith("(5)")
    assert "Left out: 6 runs that did not complete" in table.note


def test_the_report_says_completed_runs_beside_them(tmp_path):
    built = build_report([write_records(tmp_path / "sweep", _records())], tmp_path / "report")
    assert built.summary["completed"] == 5 and built.summary["failed"] == 7
    main = next(t for t in built.tables if t.name == "main_lora")
    assert "0 completed" not in main.note and "5 completed, 1 failed" in main.note


def test_a_row_where_every_run_failed_still_counts_its_failures():
    records = [make_record(method="dpo", seed=s, metrics={"eval/mmlu/acc": 0.3}) for s in range(2)]
    records += [make_record(method="dpo", preference="helpful", seed=s, steps=40, status="failed") for s in range(2)]
    (table,) = [t for t in study_tables(records_frame(records)) if t.name.startswith("main_lora")]
    assert table.counts["failed"] == 2 and table.counts["completed"] == 2
    helpful = table.cells.query("preference == 'helpful'")
    assert helpful["failed"].tolist() == [2] and helpful["n"].tolist() == [0]
