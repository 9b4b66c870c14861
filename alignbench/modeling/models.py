"""Tokenizer and base model (optionally quantized) for a model config, from a local folder, the hub or a tiny build."""

from __future__ import annotations

import os
from pathlib import Path

from alignbench.config.schema import DType, JudgeSpec, ModelConfig, QuantConfig, ScorerConfig
from alignbench.config.sources import base_identity, hub_revision
from alignbench.modeling.tiny import tiny_model_path
from alignbench.runs.dirs import CacheDir
from alignbench.runs.keys import digest


def model_location(cfg: ModelConfig | ScorerConfig | JudgeSpec, cache: str | os.PathLike[str]) -> str:
    """A local folder or a hub id: what `from_pretrained` is given (base models, scorers and judges alike). `cache`:
    the cache (a CacheDir, or paths.cache_dir as configured)."""
    if cfg.path:
        return str(Path(cfg.path).expanduser())
    if cfg.tiny is not None:
        return str(tiny_model_path(cfg.tiny, cfg.name, CacheDir(cache)))
    return cfg.hub_id


def torch_dtype(dtype: DType):
    import torch

    return "auto" if dtype is DType.auto else getattr(torch, dtype.value)


def quantization_config(cfg: QuantConfig):
    if cfg.bits is None:
        return None
    from transformers import BitsAndBytesConfig

    if cfg.bits == 4:
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=cfg.quant_type,
            bnb_4bit_compute_dtype=torch_dtype(cfg.compute_dtype),
            bnb_4bit_use_double_quant=cfg.double_quant,
        )
    return BitsAndBytesConfig(load_in_8bit=True)


def load_tokenizer(cfg: ModelConfig, location: str):
    """The base tokenizer with the study's chat template for this model (the paper's, not the hub's)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(location, revision=hub_revision(cfg))
    tokenizer.chat_template = cfg.chat_template
    if tokenizer.pad_token is None:  # LLaMA and Mistral ship none; padding is masked out anyway
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


# The last base model loaded in this process. Consecutive runs of one process (Hydra's basic launcher) on the same
# base reuse its weights instead of loading them again; only one is kept, so a grid needs a single run's memory.
_resident: dict[str, object] = {}


def load_base_model(cfg: ModelConfig, quant: QuantConfig, location: str) -> tuple[object, bool]:
    """(model, reused): the base model, reused from the previous run of this process when it is the same one
    (the same base_identity, loaded from the same place).

    Runs hand it back with `release_base_model` (adapters removed), so a reused base is the loaded weights exactly.
    """
    key = digest([base_identity(cfg, quant), location])
    resident = _resident.get(key)
    # A run that failed between PEFT's injection and its trainer leaves LoRA layers it cannot unload: load afresh.
    if resident is not None and not any("lora_" in name for name, _ in resident.named_modules()):
        return resident, True
    _resident.clear()  # one resident base at a time
    model = _load(cfg, quant, location)
    _resident[key] = model
    return model, False


def release_base_model(policy) -> None:
    """Take the run's adapter off the shared base (PEFT's unload: LoRA layers out, base layers back, unmerged).
    `policy` is None when the run never got that far."""
    import gc

    from alignbench.modeling.adapters import FoldedAdapter

    FoldedAdapter.unfold_all()  # an adapter folded into the base's layers (sft_dpo) goes with the run, however it ended
    if policy is not None:
        try:
            base = policy.unload()
            base.__dict__.pop("forward", None)  # TRL's DPO trainer wraps forward per run (add_fused_lm_head)
            base.gradient_checkpointing_disable()  # a run that turned it on does not turn it on for the next
        except Exception:  # PEFT could not unload: never hand on a base that may carry an adapter
            _resident.clear()
    gc.collect()


def _load(cfg: ModelConfig, quant: QuantConfig, location: str):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        location,
        revision=hub_revision(cfg),
        dtype=torch_dtype(cfg.dtype),
        quantization_config=quantization_config(quant),
        device_map={"": 0} if torch.cuda.is_available() else None,
        attn_implementation=cfg.attn_implementation,
    )
    model.config.use_cache = False  # the KV cache only costs memory during training
    return model
