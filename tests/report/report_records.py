"""Hand-written record.json files in the shape pipeline._execute writes, for the report's edge cases."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from alignbench.runs.study import study_coordinates

KINDS = {"llama": "pretrained", "vicuna": "instruct", "mistral": "pretrained", "mistral_instruct": "instruct"}


def make_record(
    model="tiny_llama",
    dataset="beavertails",
    preference="harmless",
    method="dpo",
    quant="none",
    seed=0,
    metrics=None,
    status="completed",
    r=None,
    alpha=None,
    steps=20,
    errors=None,
    sweep="hand",
    adapter="lora",
    study=True,
    **extra,
) -> dict:
    """A record with its choices, resolved config, study block (as the pipeline computes it; study=False: a record
    from before runs had one) and flat metrics; `metrics` like {"eval/mmlu/acc": 0.3}."""
    run_key = uuid.uuid4().hex[:16]
    r = r if r is not None else (64 if method == "sft" else 16)
    alpha = alpha if alpha is not None else (16 if method == "sft" else 32)
    record = {
        "run_key": run_key,
        "eval_key": "e0",
        "status": status,
        "attempt": 1,
        "failures": int(status == "failed"),
        "choices": {
            "model": model,
            "dataset": dataset,
            "method": method,
            "adapter": adapter,
            "quant": quant,
            "logger": "none",
            "eval": "sample",
            "judge": "offline",
        },
        "overrides": [],
        "sweep": sweep,
        "run_dir": f"/runs/{run_key}",
        "metrics": metrics or {},
        "config": {
            "model": {"name": model, "kind": KINDS[model.removeprefix("tiny_")]},
            "dataset": {"name": dataset, "preference": preference, "mixture_harmless": 0.5},
            "method": {"name": method, "max_steps": steps, "batch_size": 8, "grad_accum": 1},
            "adapter": {"name": adapter, "r": r, "alpha": alpha},
            "quant": {"name": quant},
            "seed": seed,
        },
        "versions": {"python": "3.11.7", "torch": "2.13.0+cpu", "git_sha": "abc123"},
        "timings": {},
        "benchmarks": {"errors": errors or {}, "missing": sorted(errors or {}), "baseline": {"errors": {}}},
        "started_at": "2026-12-01T10:00:00+00:00",
        "finished_at": "2026-12-01T10:01:00+00:00",
        **extra,
    }
    if status == "failed":
        record["error"] = "RuntimeError: boom"
    if study:
        record["study"] = study_coordinates(record["config"])
    return record


def restudy(record: dict) -> dict:
    """The record's study block computed again after its config was edited by hand."""
    record["study"] = study_coordinates(record["config"])
    return record


def write_records(folder: Path, records: list[dict]) -> Path:
    """Each record at folder/<run_key>/record.json, as a sweep leaves them; returns the folder."""
    for record in records:
        run_dir = folder / record["run_key"]
        run_dir.mkdir(parents=True, exist_ok=True)
        record["run_dir"] = str(run_dir)
        (run_dir / "record.json").write_text(json.dumps(record))
    return folder
