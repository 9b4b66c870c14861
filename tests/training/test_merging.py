"""Adapter merging against hand computations on small tensors: linear and SLERP exactly, TIES and DARE by their
definitions (trim/elect/disjoint mean; drop with probability 1 - density and rescale, seeded)."""

from __future__ import annotations

import math

import pytest
import torch
from peft import LoraConfig, get_peft_model

from alignbench.training.merging import merge_adapters


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = torch.nn.Linear(4, 4, bias=False)
        self.v_proj = torch.nn.Linear(4, 4, bias=False)

    def forward(self, x):
        return self.v_proj(self.q_proj(x))


def two_adapters(rank: int = 2, seed: int = 0):
    """A PeftModel with adapters in_0 and in_1 of random A and B, and their deltas per module before merging."""
    torch.manual_seed(seed)
    config = LoraConfig(r=rank, lora_alpha=rank, target_modules=["q_proj", "v_proj"])
    model = get_peft_model(Tiny(), config, adapter_name="in_0")
    model.add_adapter("in_1", config)
    with torch.no_grad():
        for module in (model.base_model.model.q_proj, model.base_model.model.v_proj):
            for name in ("in_0", "in_1"):
                module.lora_A[name].weight.normal_()
                module.lora_B[name].weight.normal_()
    deltas = {
        m: [getattr(model.base_model.model, m).get_delta_weight(n) for n in ("in_0", "in_1")]
        for m in ("q_proj", "v_proj")
    }
    return model, deltas


def merged_delta(model, module: str) -> torch.Tensor:
    return getattr(model.base_model.model, module).get_delta_weight("default")


def test_linear_is_the_weighted_sum_of_the_deltas():
    model, deltas = two_adapters()
    merge_adapters(model, ["in_0", "in_1"], "linear", [0.3, 0.7])
    for module, (d0, d1) in deltas.items():
        assert torch.allclose(merged_delta(model, module), 0.3 * d0 + 0.7 * d1, atol=1e-5)
    assert set(model.peft_config) == {"default"}  # the inputs are gone


def test_slerp_interpolates_each_matrix_on_the_sphere():
    model, deltas = two_adapters()
    merge_adapters(model, ["in_0", "in_1"], "slerp", [1, 1], t=0.3)
    for module, (d0, d1) in deltas.items():
        theta = math.acos(float((d0 * d1).sum() / (d0.norm() * d1.norm())))
        expected = (math.sin(0.7 * theta) * d0 + math.sin(0.3 * theta) * d1) / math.sin(theta)
        assert torch.allclose(merged_delta(model, module), expected, atol=1e-4)


def test_dare_drops_with_probability_one_minus_density_and_rescales_seeded():
    model, deltas = two_adapters(rank=4)
    # weight 0 on the second input isolates the first one's drops (PEFT turns a one-input merge into a linear one)
    merge_adapters(model, ["in_0", "in_1"], "dare_linear", [1.0, 0.0], density=0.5, seed=3, svd_rank=4)
    (d0, _), merged = deltas["q_proj"], merged_delta(model, "q_proj")
    kept = merged.abs() > 1e-4
    assert 0 < kept.sum() < kept.numel()  # some dropped, some kept
    assert torch.allclose(merged[kept], d0[kept] / 0.5, atol=1e-4)  # survivors rescaled by 1 / density
    again, _ = two_adapters(rank=4)
    merge_adapters(again, ["in_0", "in_1"], "dare_linear", [1.0, 0.0], density=0.5, seed=3, svd_rank=4)
    assert torch.allclose(merged_delta(again, "q_proj"), merged, atol=1e-5)  # the same seed, the same drops


def test_ties_trims_elects_the_sign_and_averages_the_agreeing_values():
    model, _ = two_adapters(rank=4)
    first = torch.tensor([[2.0, 1.0, -3.0, 0.1]] * 4)
    second = torch.tensor([[4.0, -2.0, -1.0, 0.1]] * 4)
    with torch.no_grad():  # A = identity, scaling 1: the deltas are B
        for name, b in (("in_0", first), ("in_1", second)):
            model.base_model.model.q_proj.lora_A[name].weight.copy_(torch.eye(4))
            model.base_model.model.q_proj.lora_B[name].weight.copy_(b)
    merge_adapters(model, ["in_0", "in_1"], "ties", [1.0, 1.0], density=0.75, svd_rank=4)
    row = merged_delta(model, "q_proj")[0]
    # density 0.75 trims each delta's smallest quarter (the 0.1s); per entry the sign with more mass wins and the
    # values of that sign are averaged: (2 + 4) / 2; -2 outweighs +1; (-3 - 1) / 2; trimmed: 0.
    assert torch.allclose(row, torch.tensor([3.0, -2.0, -2.0, 0.0]), atol=1e-4)


def test_unknown_combination_and_slerp_of_three_are_refused():
    from alignbench.config.rules import ConfigError

    model, _ = two_adapters()
    with pytest.raises(ConfigError, match="method.merge.combination='mean'"):
        merge_adapters(model, ["in_0", "in_1"], "mean", [1, 1])
    with pytest.raises(ValueError, match="two adapters"):
        merge_adapters(model, ["in_0"], "slerp", [1])
