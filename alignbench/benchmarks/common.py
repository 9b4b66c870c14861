"""What every benchmark shares: where its items come from (bundled, local file, hub), greedy generation, item logs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignbench.data import SAMPLES_DIR

BENCHMARK_SAMPLES = SAMPLES_DIR / "benchmarks"


class BenchmarkUnavailable(RuntimeError):
    """The benchmark's data or judge cannot be had here; the message says what to provide."""


@dataclass
class BenchmarkResult:
    metrics: dict[str, float]  # e.g. {"acc": 0.41}; recorded as eval/<benchmark>/<metric>
    items: list[dict[str, Any]] = field(default_factory=list)  # one row per item: prompt, output, score/verdict
    judge: str | None = None  # which scorer or judge produced the number
    source: str | None = None  # where the items came from (bundled file, local file, hub id@revision)


def short(location: str) -> str:
    """A model's name for tables: the folder name of a local path, the hub id as it is."""
    path = Path(location)
    return path.name if path.is_absolute() else location


def package_path(path: str) -> Path:
    """`pkg://alignbench/...` names a file inside the installed package; anything else is a plain path."""
    if path.startswith("pkg://"):
        package, _, inside = path.removeprefix("pkg://").partition("/")
        return Path(__import__(package).__file__).parent / inside
    return Path(path).expanduser()


def load_items(source, key: str, sample_file: str) -> tuple[list[Any], str]:
    """The benchmark's raw items and where they came from: the bundled miniature, a local file, or the file
    `source.hub_file` of the hub dataset (checked first, so a missing dataset fails in seconds, not a retry loop)."""
    if source.sample:
        path = BENCHMARK_SAMPLES / sample_file
    elif source.path:
        path = Path(source.path).expanduser()
        if not path.is_file():
            raise BenchmarkUnavailable(f"{key}.path={source.path} does not exist")
    else:
        return _read_file(_hub_file(source, key)), f"{source.hub_id}@{source.revision or 'main'}"
    return _read_file(path), str(path)


def _read_file(path: Path) -> list[Any]:
    text = path.read_text()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def _hub_file(source, key: str) -> Path:
    from huggingface_hub import hf_hub_download

    from alignbench.validate import hub_missing

    if not source.hub_id:
        raise BenchmarkUnavailable(f"{key}: this benchmark has no hub copy; set {key}.path to a local file "
                                   f"({source.where})")
    missing = hub_missing(source.hub_id, source.revision, "dataset")
    if missing:
        raise BenchmarkUnavailable(
            f"dataset {source.hub_id}@{source.revision or 'main'} is not available: {missing}. Set {key}.path to a "
            f"local copy of its {source.hub_file}, {key}.sample=true for the bundled miniature, or download it where "
            f"the hub is reachable (`hf download {source.hub_id} {source.hub_file} --repo-type dataset`)"
        )
    return Path(hf_hub_download(source.hub_id, source.hub_file, revision=source.revision, repo_type="dataset"))


def render(tokenizer, text: str, chat: bool) -> str:
    """The model's input: the user turn in the model's chat template, or the raw text to be continued."""
    if not chat:
        return (tokenizer.bos_token or "") + text
    return tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                         tokenize=False)


def generate(model, tokenizer, texts: list[str], max_new_tokens: int, batch_size: int) -> list[str]:
    """Greedy continuations. Prompts longer than the model's context keep their end (where the request is)."""
    import torch

    device = next(model.parameters()).device
    limit = getattr(model.config, "max_position_embeddings", None) or tokenizer.model_max_length
    saved = tokenizer.padding_side, tokenizer.truncation_side
    tokenizer.padding_side = tokenizer.truncation_side = "left"  # decoder-only: pad and cut on the left
    replies = []
    try:
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True, truncation=True,
                            max_length=limit - max_new_tokens, add_special_tokens=False).to(device)
            with torch.no_grad():
                out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
                                     pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            replies += tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    finally:
        tokenizer.padding_side, tokenizer.truncation_side = saved
    return [reply.strip() for reply in replies]


def write_items(path: Path, items: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for item in items:
            f.write(json.dumps(item, default=str) + "\n")
