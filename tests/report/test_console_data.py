"""The data lines of the end-of-run summary: every pair by what happened to it, and the first rows left out."""

from __future__ import annotations

from alignbench.runs.console import data_lines


def test_mixed_preferences_add_their_row_counts_and_a_single_file_has_no_held_out_rows():
    m = {
        "data/harmless_train_rows": 100,
        "data/harmless_train_bad_rows": 1,
        "data/harmless_train_filtered_rows": 40,
        "data/helpful_train_rows": 100,
        "data/helpful_train_bad_rows": 1,
        "data/helpful_train_filtered_rows": 0,
        "data/train_selected_pairs": 64,
        "data/train_prompt_truncated": 3,
        "data/train_reply_truncated": 2,
        "data/train_dropped_no_reply": 0,
        "data/train_pairs": 64,
        "data/test_selected_pairs": 10,
        "data/test_prompt_truncated": 0,
        "data/test_dropped_no_reply": 1,
        "data/test_pairs": 9,
        "eval/pref/pairs": 9,
    }
    issues = {"harmless_train_bad": {"wrong_type": {"count": 4, "rows": ["a.jsonl:2", "a.jsonl:5"], "detail": "x"}}}
    assert data_lines(m, issues) == [
        "  data         train: 200 rows, 2 bad, 40 filtered by the preference rule -> 64 pairs selected -> 64 trained "
        "(prompt cut 3, reply tail cut 2, dropped with no reply token 0)",
        "  data         held-out: 10 pairs selected -> 9 scored (prompt cut 0, reply tail cut 0, dropped with no reply "
        "token 1)",
        "  left out     harmless_train_bad: wrong_type 4 (a.jsonl:2, a.jsonl:5, ...)",
    ]


def test_a_run_that_failed_before_selecting_prints_no_data_line():
    assert data_lines({"data/train_rows": 10, "data/train_bad_rows": 9}, {}) == []
