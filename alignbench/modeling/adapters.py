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


class FoldedAdapter:
    """A saved LoRA adapter folded into its base layers by forward hooks: each layer it adapts returns
    base(x) + scaling * B A x, as if the adapter were merged into the layer's weight, exactly and without touching the
    weight (a 4-bit base is neither dequantized nor re-quantized; the shared resident base stays as loaded). PEFT,
    and so TRL, sees plain base layers: a new adapter trains on top of the folded one, and "adapter off" (TRL's DPO
    reference) is base + folded adapter. `unfold()` removes the hooks."""

    _folded: list[FoldedAdapter] = []  # every folded adapter of this process: release_base_model unfolds them all

    def __init__(self, model, folder) -> None:
        from pathlib import Path

        from peft import LoraConfig
        from safetensors.torch import load_file

        from alignbench.config.rules import ConfigError

        folder = Path(folder)
        self.config = config = LoraConfig.from_pretrained(str(folder))
        if config.use_dora or config.bias != "none" or config.rank_pattern or config.alpha_pattern:
            raise ConfigError(
                f"{folder}: only a plain LoRA (no DoRA, bias or per-module ranks) can be folded into its base; "
                "use method=sft_dpo_continued to train it further instead"
            )
        self.scaling = config.lora_alpha / (config.r**0.5 if config.use_rslora else config.r)
        weights = load_file(str(folder / "adapter_model.safetensors"))
        layers = dict(model.named_modules())
        self.factors: dict[str, tuple[Any, Any]] = {}
        self._handles = []
        for name, a in weights.items():
            if not name.endswith(".lora_A.weight"):
                continue
            key = name.removeprefix("base_model.model.").removesuffix(".lora_A.weight")
            layer = layers[key]
            device = next(layer.parameters()).device
            b = weights[name.replace(".lora_A.", ".lora_B.")]
            self.factors[key] = (a.to(device), b.to(device))
            self._handles.append(layer.register_forward_hook(self._hook(*self.factors[key])))
        FoldedAdapter._folded.append(self)

    def _hook(self, a, b):
        scaling = self.scaling

        def add_delta(module, args, output):
            x = args[0]
            # As PEFT's LoRA forward: the input in the adapter's dtype, the result back in the layer's.
            return output + (x.to(a.dtype) @ a.T @ b.T * scaling).to(output.dtype)

        return add_delta

    def delta(self, key: str):
        """The folded adapter's weight delta on layer `key` (B A x scaling)."""
        a, b = self.factors[key]
        return (b @ a) * self.scaling

    def unfold(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if self in FoldedAdapter._folded:
            FoldedAdapter._folded.remove(self)

    @classmethod
    def unfold_all(cls) -> None:
        for folded in list(cls._folded):
            folded.unfold()
