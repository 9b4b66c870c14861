"""Adapters by kind: each turns the adapter config into a PEFT config; nothing else branches on the adapter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alignbench.config.registry import Registry
from alignbench.config.schema import AdapterConfig


def lora(cfg: AdapterConfig) -> Any:
    """LoRA and its PEFT variants (DoRA, rsLoRA, init schemes) as flags of one config."""
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.r,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=list(cfg.target_modules),
        bias=cfg.bias,
        use_dora=cfg.use_dora,
        use_rslora=cfg.use_rslora,
        init_lora_weights=True if cfg.init == "kaiming" else cfg.init,  # PEFT names its default True
        task_type="CAUSAL_LM",
    )


ADAPTERS: Registry[Callable[[AdapterConfig], Any]] = Registry("adapter.kind", {"lora": lora})


def peft_config(cfg: AdapterConfig) -> Any:
    return ADAPTERS.pick(cfg.kind)(cfg)
