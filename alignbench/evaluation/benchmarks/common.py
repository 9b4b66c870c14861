"""What every benchmark shares: where its items come from (bundled, local file, hub), its result, its item log."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignbench.config.hub import Unavailable, hub_missing, not_available
from alignbench.config.sources import describe
from alignbench.data.load import SAMPLES_DIR
from alignbench.runs.dirs import CacheDir

BENCHMARK_SAMPLES = SAMPLES_DIR / "benchmarks"


class BenchmarkUnavailable(Unavailable):
    """The benchmark's data or judge cannot be had here; the message says what to provide."""


@dataclass
class BenchmarkResult:
    metrics: dict[str, float]  # e.g. {"acc": 0.41}; recorded as eval/<benchmark>/<metric>
    items: list[dict[str, Any]] = field(default_factory=list)  # one row per item: prompt, output, score/verdict
    judge: str | None = None  # which scorer or judge produced the number
    source: str | None = None  # where the items came from (bundled file, local file, hub id@revision)
    # An API judge's configured model and the models its replies named (judges.Judge.models), and the line when they
    # differ (judges.Judge.model_warning): both go into the record.
    judge_models: dict[str, Any] | None = None
    judge_warning: str | None = None


def load_items(
    source, key: str, sample_file: str, upstream=None, cache: CacheDir | None = None
) -> tuple[list[Any], str]:
    """The benchmark's raw items and where they came from: the bundled miniature, a local file, a pinned file of
    the benchmark's own repository (`upstream`, fetched into the cache and verified), or the file
    `source.hub_file` of the hub dataset (checked first, so a missing dataset fails in seconds, not a retry loop)."""
    if source.sample:
        path = BENCHMARK_SAMPLES / sample_file
    elif source.path:
        path = Path(source.path).expanduser()
        if not path.is_file():
            raise BenchmarkUnavailable(f"{key}.path={source.path} does not exist")
    elif upstream is not None:
        from alignbench.data.upstream import upstream_file

        assert cache is not None, "a pinned upstream file is fetched into the cache"
        path = upstream_file(upstream, cache.upstream, key, f"set {key}.path to a local file in the same schema")
        return _read_file(path), f"{upstream.repo}@{upstream.commit[:12]}/{upstream.file}"
    else:
        return _read_file(_hub_file(source, key)), describe(source)
    return _read_file(path), str(path)


def _read_file(path: Path) -> list[Any]:
    text = path.read_text()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def _hub_file(source, key: str) -> Path:
    from huggingface_hub import hf_hub_download

    if not source.hub_id:
        raise BenchmarkUnavailable(
            f"{key}: this benchmark has no hub copy; set {key}.path to a local file ({source.where})"
        )
    missing = hub_missing(source.hub_id, source.revision, "dataset")
    if missing:
        instead = (
            f"Set {key}.path to a local copy of its {source.hub_file}, {key}.sample=true for the bundled miniature"
        )
        raise BenchmarkUnavailable(
            not_available("dataset", source.hub_id, source.revision, missing, instead, "dataset", files=source.hub_file)
        )
    return Path(hf_hub_download(source.hub_id, source.hub_file, revision=source.revision, repo_type="dataset"))


def write_items(path: Path, items: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for item in items:
            f.write(json.dumps(item, default=str) + "\n")
