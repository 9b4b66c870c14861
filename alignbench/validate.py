"""Rules that span config groups, and a fast check that the hub models and datasets a run needs can be had."""

from __future__ import annotations

import os
from pathlib import Path

from alignbench.schema import Config, Precision, Preference

HUB_PROBE_TIMEOUT_S = 10


class ConfigError(ValueError):
    """The composed config cannot run here; the message lists every problem and how to fix it."""


def validate(cfg: Config, cuda: bool, bf16: bool) -> None:
    """Raise ConfigError listing every problem at once, before anything heavy is loaded."""
    problems = _model_problems(cfg) + _dataset_problems(cfg) + _rule_problems(cfg, cuda, bf16)
    if problems:
        raise ConfigError("this run cannot start:\n- " + "\n- ".join(problems))


def resolve_precision(requested: Precision, cuda: bool, bf16: bool) -> Precision:
    if requested is not Precision.auto:
        return requested
    if cuda:
        return Precision.bf16 if bf16 else Precision.fp16
    return Precision.fp32


def _rule_problems(cfg: Config, cuda: bool, bf16: bool) -> list[str]:
    problems = []
    precision = resolve_precision(cfg.train.precision, cuda, bf16)
    if precision is Precision.bf16 and not bf16:
        problems.append("train.precision=bf16 needs a GPU with bf16 support; use train.precision=auto or fp32")
    if precision is Precision.fp16 and not cuda:
        problems.append("train.precision=fp16 needs a GPU; use train.precision=auto or fp32")
    if cfg.method.optimizer.startswith("paged_") and not cuda:
        problems.append(
            f"method.optimizer={cfg.method.optimizer} pages optimizer state to GPU memory and needs CUDA; "
            "on CPU use method.optimizer=adamw_torch"
        )
    if cfg.quant.bits not in (None, 4, 8):
        problems.append(f"quant.bits={cfg.quant.bits}: bitsandbytes supports 4 or 8")
    if not cfg.adapter.target_modules:
        problems.append("adapter.target_modules is empty: LoRA would train nothing")
    if cfg.dataset.path and cfg.dataset.sample:
        problems.append("dataset.path and dataset.sample=true both choose the data; set one")
    if cfg.dataset.preference is Preference.mixed and not cfg.dataset.labels_both_preferences:
        problems.append(
            f"dataset.preference=mixed needs rows labelled for both preferences; {cfg.dataset.name} keeps them in "
            "separate subsets (data_dir)"
        )
    if not 0 <= cfg.dataset.mixture_harmless <= 1:
        problems.append(f"dataset.mixture_harmless={cfg.dataset.mixture_harmless} is a share, between 0 and 1")
    return problems


def _model_problems(cfg: Config) -> list[str]:
    model = cfg.model
    if model.path:
        if not (Path(model.path).expanduser() / "config.json").is_file():
            return [f"model {model.name!r}: model.path={model.path} has no config.json (a save_pretrained folder)"]
        return []
    if model.tiny is not None:
        return []
    if not model.hub_id:
        return [f"model {model.name!r}: set model.hub_id, model.path or model.tiny"]
    missing = hub_missing(model.hub_id, model.revision, "model")
    if missing:
        return [
            f"model {model.name!r} ({model.hub_id}@{model.revision or 'main'}) is not available: {missing}. "
            f"Point model.path=/models/{model.hub_id.split('/')[-1]} at a local copy, or download it where the "
            f"hub is reachable (`hf download {model.hub_id} --revision {model.revision or 'main'}`) into the cache "
            "that HF_HOME names here"
        ]
    return []


def _dataset_problems(cfg: Config) -> list[str]:
    data = cfg.dataset
    if data.path:
        return [] if Path(data.path).expanduser().exists() else [f"dataset.path={data.path} does not exist"]
    if data.sample:
        return []
    missing = hub_missing(data.hub_id, data.revision, "dataset")
    if missing:
        return [
            f"dataset {data.name!r} ({data.hub_id}@{data.revision or 'main'}) is not available: {missing}. "
            f"Point dataset.path= at local raw files in the hub schema, use dataset.sample=true for the bundled "
            f"miniature, or download it where the hub is reachable (`hf download {data.hub_id} --repo-type dataset "
            f"--revision {data.revision or 'main'}`) into the cache that HF_HOME names here"
        ]
    return []


def hub_missing(repo_id: str, revision: str | None, repo_type: str) -> str | None:
    """Why a hub repo cannot be used, or None. One cache look-up and at most one short probe: no retry loops."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        snapshot_download(repo_id, revision=revision, repo_type=repo_type, local_files_only=True)
        return None
    except (LocalEntryNotFoundError, FileNotFoundError, OSError):
        pass
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
        return "it is not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
    try:
        HfApi().repo_info(repo_id, revision=revision, repo_type=repo_type, timeout=HUB_PROBE_TIMEOUT_S)
        return None
    except Exception as err:  # network, auth (gated repos) or a wrong id: all mean "cannot be had"
        return f"it is not in the local Hugging Face cache and the hub did not answer ({type(err).__name__}: {err})"
