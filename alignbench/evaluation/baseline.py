"""The un-adapted base's benchmark scores, computed once per base and benchmark settings and reused by every run
that shares them (cached under paths.cache_dir/baselines/<key>/).

An entry carries a checksum of its result and is keyed by the cache's one key policy (runs.dirs.CacheDir.key: a
cache version and the versions of the libraries that compute it), so an upgrade of lm-eval never reuses a stale
score. An entry that cannot be read or does not match its checksum (a hand edit, a torn copy) is set aside, named in
one warning line, and computed again: never used, never the run's failure.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from alignbench.config.schema import Config
from alignbench.config.sources import base_identity
from alignbench.evaluation.benchmarks import EvalContext, run_benchmarks
from alignbench.runs.dirs import CacheDir
from alignbench.runs.files import finite, write_json_atomic

log = logging.getLogger(__name__)

CACHE_VERSION = 2  # 2: entries carry a checksum
ENTRY = "baseline.json"
SECTIONS = ("metrics", "errors", "judges", "sources")


def baseline_benchmarks(model, tokenizer, context: EvalContext) -> dict[str, Any]:
    """Each configured benchmark's result for the base (`model` with its adapter already disabled): from the cache,
    or computed and stored. A benchmark that failed is not stored, so the next run tries it again."""
    folder = context.cache.baselines
    result: dict[str, Any] = {"metrics": {}, "errors": {}, "judges": {}, "sources": {}, "reused": [], "computed": []}
    for name in context.cfg.eval.benchmarks:
        entry_dir = folder / baseline_key(context.cfg, name)
        cached = read_entry(entry_dir / ENTRY)
        if cached is not None:
            _merge(result, cached)
            result["reused"].append(name)
            continue
        computed = run_benchmarks(model, tokenizer, replace(context, out_dir=entry_dir), "baseline", [name])
        _merge(result, computed)
        if not computed["errors"]:
            write_entry(entry_dir / ENTRY, computed)
            result["computed"].append(name)
    return result


def baseline_key(cfg: Config, benchmark: str) -> str:
    """What the base's score on one benchmark depends on: its weights, the chat template the prompts are rendered
    in, the judges, that benchmark's settings, and the code that computes it (cache version, library versions)."""
    return CacheDir.key(
        "baselines",
        CACHE_VERSION,
        {
            "base": base_identity(cfg.model, cfg.quant),
            "template": cfg.model.chat_template,
            "judge": asdict(cfg.judge),
            "benchmark": benchmark,
            "settings": asdict(getattr(cfg.eval, benchmark)),
        },
    )


def read_entry(path: Path) -> dict[str, Any] | None:
    """The cached result at `path`, verified against its checksum; None when there is none. A damaged one is set
    aside (renamed beside it, named in a warning) so that it is computed again."""
    if not path.is_file():
        return None
    try:
        entry = json.loads(path.read_text())
        result = entry["result"]
        problem = None if entry["checksum"] == checksum(result) else "its result does not match its checksum"
        if problem is None and not all(isinstance(result.get(s), dict) for s in SECTIONS):
            problem = "it lacks a section of a result"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        problem = f"it is unreadable ({type(err).__name__})"
    if problem is None:
        return result
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}")
    try:
        os.replace(path, aside)
    except OSError:  # another run set it aside first
        aside = path
    log.warning("alignbench: cached baseline %s: %s; set aside as %s and computed again", path, problem, aside.name)
    return None


def write_entry(path: Path, result: dict[str, Any]) -> None:
    clean = finite(result)  # as it will read back: a NaN score is stored as null (and named)
    write_json_atomic(path, {"checksum": checksum(clean), "result": clean})


def checksum(result: dict[str, Any]) -> str:
    # JSON of Python floats round-trips exactly, so the checksum covers every bit of every score.
    return hashlib.sha256(json.dumps(result, sort_keys=True).encode()).hexdigest()


def _merge(into: dict[str, Any], part: dict[str, Any]) -> None:
    for section in SECTIONS:
        into[section].update(part[section])
