"""What a record's numbers rest on, as checksums it carries: a digest of its metrics and the sha256 of each per-item
evaluation file (every prompt, output and score a benchmark number was computed from). The report recomputes both,
so a hand-edited number, or an item file changed after the run, is caught instead of printed as a result."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from alignbench.config.benchmarks import SPECS
from alignbench.runs.dirs import RunDir
from alignbench.runs.files import finite, sha256_of

# Each metric's possible values, for every benchmark (a headline's own: its spec's `range`): a value outside is
# not a result. Fractions are in [0, 1]; the paper's percentages (AlpacaEval win rate, Red-Instruct) in [0, 100].
RANGES: dict[str, tuple[float, float]] = {
    "*/accuracy": (0.0, 1.0),
    "*/reward_accuracy": (0.0, 1.0),
    "*/acc": (0.0, 1.0),
    "*/acc_norm": (0.0, 1.0),
    "*/exact_match": (0.0, 1.0),
    "*/non_toxic": (0.0, 1.0),
    "*/win_rate": (0.0, 100.0),
    "*/asr": (0.0, 100.0),
    "*/items": (0.0, math.inf),
    "*/pairs": (0.0, math.inf),
    "*/unjudged": (0.0, math.inf),
    "*/seconds": (0.0, math.inf),
}


def metrics_digest(metrics: dict[str, Any]) -> str:
    """sha256 of the metrics as record.json holds them (key order and float formatting do not matter)."""
    text = json.dumps(metrics, sort_keys=True, separators=(",", ":"), default=str, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def item_digests(run_dir: Path) -> dict[str, str]:
    """{path relative to run_dir: sha256} of the run's per-item evaluation files."""
    return {path.relative_to(run_dir).as_posix(): sha256_of(path) for path in RunDir(run_dir).item_files()}


def digest(metrics: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """What a record carries: its metrics' digest (of the metrics as the file will hold them: `metrics` through
    JSON) and its item files' checksums."""
    return {"metrics": metrics_digest(json.loads(metrics_json(metrics))), "items": item_digests(run_dir)}


def metrics_json(metrics: dict[str, Any]) -> str:
    return json.dumps(finite(metrics), default=str, allow_nan=False)


def digest_problems(record: dict[str, Any], folder: Path) -> list[str]:
    """Why a record's numbers are not what its run produced: its metrics changed since it was written, or an item
    file beside it changed or went missing. [] for a record that matches, or one written before digests."""
    carried = record.get("digest")
    if not isinstance(carried, dict):
        return []
    problems = []
    if metrics_digest(record.get("metrics") or {}) != carried.get("metrics"):
        problems.append("its metrics do not match the digest written with them (edited after the run)")
    for name, sha in (carried.get("items") or {}).items():
        path = folder / name
        if not path.is_file():
            continue  # records copied without their run folders: nothing to compare, nothing claimed
        if sha256_of(path) != sha:
            problems.append(f"{name} changed after the run (sha256 differs from the record's)")
    return problems


def range_of(key: str) -> tuple[float, float] | None:
    """The possible values of a metric named `<stage>/<benchmark>/<metric>` (eval@<step>/... too), or None."""
    _, _, rest = key.partition("/")
    benchmark, _, metric = rest.partition("/")
    spec = SPECS.get(benchmark)
    return (spec.range if spec and spec.metric == metric else None) or RANGES.get(f"*/{metric}")


def in_range(key: str, value: Any) -> bool:
    """Whether a metric's value is one it can take (any value of a metric without a declared range)."""
    bounds = range_of(key)
    return not (bounds and isinstance(value, int | float)) or bounds[0] <= value <= bounds[1]


def out_of_range(metrics: dict[str, Any]) -> list[str]:
    """`key=value outside [low, high]` for every number outside its metric's possible values."""
    return [
        f"{key}={value:g} outside [{bounds[0]:g}, {bounds[1]:g}]"
        for key, value in metrics.items()
        if (bounds := range_of(key)) and not in_range(key, value)
    ]
