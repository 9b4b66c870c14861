"""A real (small) tiny-model sweep, run once per session, plus hand-written records for its edge cases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from report_records import make_record, write_records

REPO = Path(__file__).resolve().parents[2]
# 2 models x 2 methods x 2 seeds of sweep=report_tiny, 4 steps, MMLU only: ~1 minute on 2 cores.
STEPS = 4
TINY_SWEEP = [
    "-m",
    "sweep=report_tiny",
    "model=tiny_llama,tiny_mistral",
    "seed=0,1",
    f"method.max_steps={STEPS}",
    "eval.benchmarks=[mmlu]",
    "dataset=beavertails",
    "dataset.preference=harmless",
    "quant=none",
    "logger=none",
]


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory, tiny_cache) -> Path:
    """multirun folder of a real sweep: 8 completed runs with their record.json."""
    folder = tmp_path_factory.mktemp("report") / "report_tiny"
    done = subprocess.run(
        [sys.executable, "-m", "alignbench", *TINY_SWEEP, f"hydra.sweep.dir={folder}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


@pytest.fixture(scope="session")
def edge_records(tmp_path_factory) -> Path:
    """A failed run, a run whose BBH could not run, and a cell (tiny_mistral, helpful) with SFT only; all with
    the sweep's step count, so they belong to its cells."""
    return write_records(
        tmp_path_factory.mktemp("edge") / "edge",
        [
            make_record(model="tiny_llama", method="sft", seed=2, status="failed", steps=STEPS),
            make_record(
                model="tiny_llama",
                method="dpo",
                seed=2,
                metrics={"eval/mmlu/acc": 0.5},
                steps=STEPS,
                errors={"bbh": "BenchmarkUnavailable: no data here"},
            ),
            make_record(
                model="tiny_mistral",
                method="sft",
                preference="helpful",
                seed=0,
                steps=STEPS,
                metrics={"eval/mmlu/acc": 0.3},
            ),
        ],
    )
