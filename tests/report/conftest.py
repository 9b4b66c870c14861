"""A real (small) tiny-model sweep, run once per session, plus hand-written records for its edge cases."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path

import pytest
from helpers import alignbench
from report_records import restudy, write_records

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
    done = alignbench(*TINY_SWEEP, f"hydra.sweep.dir={folder}")
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


@pytest.fixture(scope="session")
def edge_records(tmp_path_factory, tiny_sweep) -> Path:
    """A failed run, a run whose BBH could not run, and a cell (tiny_mistral, helpful) with SFT only: copies of the
    sweep's own records with another seed or preference, so they are seeds and cells of the same configurations."""
    return write_records(
        tmp_path_factory.mktemp("edge") / "edge",
        [
            like(tiny_sweep, "tiny_llama", "sft", seed=2, status="failed", metrics={}),
            like(
                tiny_sweep,
                "tiny_llama",
                "dpo",
                seed=2,
                metrics={"eval/mmlu/acc": 0.5},
                errors={"bbh": "BenchmarkUnavailable: no data here"},
            ),
            like(tiny_sweep, "tiny_mistral", "sft", seed=0, preference="helpful", metrics={"eval/mmlu/acc": 0.3}),
        ],
    )


def like(
    sweep: Path, model: str, method: str, seed: int, metrics: dict, status="completed", preference=None, errors=None
) -> dict:
    """A copy of the sweep's record of (model, method) as another run: its seed, preference, status and metrics."""
    template = next(
        r
        for r in map(json.loads, (p.read_text() for p in sorted(sweep.rglob("record.json"))))
        if r["choices"]["model"] == model and r["choices"]["method"] == method
    )
    record = copy.deepcopy(template) | {"run_key": uuid.uuid4().hex[:16], "status": status, "metrics": metrics}
    record["config"]["seed"] = seed
    if preference:
        record["config"]["dataset"]["preference"] = preference
    record["benchmarks"] = {"errors": errors or {}, "missing": sorted(errors or {}), "baseline": {"errors": {}}}
    if status == "failed":
        record["error"] = "RuntimeError: boom"
    return restudy(record)
