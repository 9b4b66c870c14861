"""`make bench` cannot break unnoticed: its whole path (every contender, every figure) at a minimal size. It asserts
that each figure is produced, never a speed: speeds are measured by `make bench` itself (docs/performance.md)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from helpers import REPO

pytestmark = pytest.mark.slow
FIGURES = (
    "grid_vs_processes",
    "grid_vs_inprocess_trl",
    "step_vs_trl",
    "eval_vs_lm_eval_cli",
    "plan_seconds",
    "grid_rss_ratio",
)


def test_the_bench_runs_end_to_end_and_writes_every_figure(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench.py"), "--smoke", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])  # the last line: one JSON object of the figures
    assert set(summary) == set(FIGURES) and all(math.isfinite(v) and v > 0 for v in summary.values())
    written = json.loads((tmp_path / "bench.json").read_text())
    assert written["steps"] == 4 and set(written["summary"]) == set(FIGURES)
    assert "grid_vs_processes" in (tmp_path / "bench.md").read_text()
