"""A judge answered by another model than configured is a warning in the record, and the report says it once with
how many runs carry it."""

from __future__ import annotations

from alignbench.report.build import judge_warnings
from alignbench.report.pages import _summary_lines

WARNING = "red_instruct: judge configured as 'gpt-4' was answered by gpt-4-0613 (100 replies): pin it"


def test_the_report_counts_each_judge_warning_over_the_runs_that_carry_it():
    records = [
        {"benchmarks": {"warnings": [WARNING]}},
        {"benchmarks": {"warnings": [WARNING]}},
        {"benchmarks": {"warnings": []}},
        {"benchmarks": None},
        {},
    ]
    assert judge_warnings(records) == {WARNING: 2}
    summary = {"runs": 5, "completed": 5, "failed": 0, "other": 0, "unreadable": 0, "sources": ["x"]}
    lines = _summary_lines({**summary, "judge_warnings": judge_warnings(records)})
    assert f"Judge model warning (2 runs): {WARNING}." in lines
    assert not any("Judge model" in line for line in _summary_lines({**summary, "judge_warnings": {}}))
