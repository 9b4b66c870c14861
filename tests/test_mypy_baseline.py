"""scripts/mypy_baseline.py's rules: a count may only shrink, a ZERO package has none, a lower count is recorded."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter

from helpers import REPO

spec = importlib.util.spec_from_file_location("mypy_baseline", REPO / "scripts/mypy_baseline.py")
assert spec and spec.loader
mypy_baseline = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mypy_baseline)


def test_a_grown_count_fails_naming_the_file_and_both_counts():
    counts, baseline = Counter({"alignbench/training/a.py": 3}), {"alignbench/training/a.py": 2}
    grown, at_zero, shrunk = mypy_baseline.compare(counts, baseline)
    assert grown == ["alignbench/training/a.py: 3 mypy errors, baseline 2"] and not at_zero and not shrunk


def test_a_zero_package_fails_with_any_error_whatever_the_baseline():
    counts = Counter({"alignbench/config/schema.py": 1})
    grown, at_zero, _ = mypy_baseline.compare(counts, {"alignbench/config/schema.py": 1})
    assert not grown and at_zero == [
        "alignbench/config/schema.py: 1 mypy errors, but alignbench/config is held at zero "
        "(ZERO in scripts/mypy_baseline.py)"
    ]


def test_a_shrunk_or_gone_file_asks_for_the_baseline_to_be_lowered():
    baseline = {"alignbench/training/a.py": 2, "alignbench/training/gone.py": 1}
    grown, at_zero, shrunk = mypy_baseline.compare(Counter({"alignbench/training/a.py": 1}), baseline)
    assert not grown and not at_zero
    assert shrunk == [
        "alignbench/training/a.py: 1 mypy errors, baseline 2",
        "alignbench/training/gone.py: 0 mypy errors, baseline 1",
    ]


def test_the_recorded_baseline_holds_the_zero_packages_at_zero():
    recorded = json.loads((REPO / "mypy-baseline.json").read_text())
    assert not [file for file in recorded for package in mypy_baseline.ZERO if file.startswith(package + "/")]
