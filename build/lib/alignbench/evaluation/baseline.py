"""The un-adapted base's benchmark scores, computed once per base and benchmark settings and reused by every run
that shares them (cached under paths.cache_dir/baselines/<key>/)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from alignbench.config.schema import Config
from alignbench.config.sources import base_identity
from alignbench.evaluation.benchmarks import EvalContext, run_benchmarks
from alignbench.runs.keys import digest
from alignbench.runs.record import write_json_atomic


def baseline_benchmarks(model, tokenizer, context: EvalContext) -> dict[str, Any]:
    """Each configured benchmark's result for the base (`model` with its adapter already disabled): from the cache,
    or computed and stored. A benchmark that failed is not stored, so the next run tries it again."""
    folder = Path(context.cfg.paths.cache_dir).expanduser() / "baselines"
    result: dict[str, Any] = {"metrics": {}, "errors": {}, "judges": {}, "sources": {}, "reused": [], "computed": []}
    for name in context.cfg.eval.benchmarks:
        entry_dir = folder / baseline_key(context.cfg, name)
        cached = entry_dir / "baseline.json"
        if cached.is_file():
            _merge(result, json.loads(cached.read_text()))
            result["reused"].append(name)
            continue
        computed = run_benchmarks(model, tokenizer, replace(context, out_dir=entry_dir), "baseline", [name])
        _merge(result, computed)
        if not computed["errors"]:
            write_json_atomic(cached, computed)
            result["computed"].append(name)
    return result


def baseline_key(cfg: Config, benchmark: str) -> str:
    """What the base's score on one benchmark depends on: its weights, the chat template the prompts are rendered
    in, the judges and that benchmark's settings."""
    plain = asdict(cfg)
    return digest(
        {
            "base": base_identity(plain),
            "template": plain["model"]["chat_template"],
            "judge": plain["judge"],
            "benchmark": benchmark,
            "settings": plain["eval"][benchmark],
        }
    )


def _merge(into: dict[str, Any], part: dict[str, Any]) -> None:
    for section in ("metrics", "errors", "judges", "sources"):
        into[section].update(part[section])
