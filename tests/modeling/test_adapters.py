"""Each adapter preset reaches PEFT as the variant it names (scale, init), checked on the wrapped tiny model."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf

from alignbench.modeling.adapters import peft_config
from alignbench.modeling.models import load_base_model, model_location


# The DPO preset is r16 alpha32: LoRA scales by alpha / r = 2, rsLoRA by alpha / sqrt(r) = 8.
@pytest.mark.parametrize(
    ("adapter", "scale", "gaussian"), [("lora", 2.0, False), ("rslora", 8.0, False), ("lora_gaussian", 2.0, True)]
)
def test_adapter_presets_scale_and_initialise_as_named(compose, adapter, scale, gaussian):
    from peft import get_peft_model
    from peft.tuners.lora import LoraLayer

    cfg = OmegaConf.to_object(compose([f"adapter={adapter}"]))
    base, _ = load_base_model(cfg.model, cfg.quant, model_location(cfg.model, cfg.paths.cache_dir))
    model = get_peft_model(base, peft_config(cfg.adapter))
    try:
        layers = [m for m in model.modules() if isinstance(m, LoraLayer)]
        assert layers and all(m.scaling["default"] == scale for m in layers)
        assert all(
            torch.equal(m.lora_B["default"].weight, torch.zeros_like(m.lora_B["default"].weight)) for m in layers
        )
        # PEFT's default draws A Kaiming-uniform within +-1/sqrt(fan_in); a Gaussian of std 1/r = 1/16 leaves it.
        outside = [bool((m.lora_A["default"].weight.abs() > 1 / math.sqrt(m.in_features)).any()) for m in layers]
        assert any(outside) == gaussian
    finally:
        model.unload()  # give the shared base back unchanged
