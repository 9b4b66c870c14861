"""Adapter merging on small tensors. The weights space against mergekit's own merge methods on the full weights (the
paper's operator) and against their documented formulas; the adapter space against PEFT's definitions by hand
(linear and SLERP exactly, TIES and DARE by trim/elect/disjoint mean and seeded drop-and-rescale); the LoRA form
exact by default and its kept energy when capped."""

from __future__ import annotations

import math

import pytest
import torch
from mergekit.merge_methods.api import merge_tensors
from peft import LoraConfig, get_peft_model

from alignbench.training.merging import MergeSpec, merge_adapters

MODULES = ("q_proj", "v_proj")


class Tiny(torch.nn.Module):
    def __init__(self, width: int = 4):
        super().__init__()
        self.q_proj = torch.nn.Linear(width, width, bias=False)
        self.v_proj = torch.nn.Linear(width, width, bias=False)

    def forward(self, x):
        return self.v_proj(self.q_proj(x))


def two_adapters(rank: int = 2, seed: int = 0, width: int = 4, scale: float = 1.0):
    """A PeftModel with adapters in_0 and in_1 of random A and B (B times `scale`), and per module its base weight
    and the two deltas before merging."""
    torch.manual_seed(seed)
    config = LoraConfig(r=rank, lora_alpha=rank, target_modules=list(MODULES))
    model = get_peft_model(Tiny(width), config, adapter_name="in_0")
    model.add_adapter("in_1", config)
    with torch.no_grad():
        for module in layers(model):
            for name in ("in_0", "in_1"):
                module.lora_A[name].weight.normal_()
                module.lora_B[name].weight.normal_().mul_(scale)
    found = {
        m: (layer.get_base_layer().weight.detach().clone(), [layer.get_delta_weight(n) for n in ("in_0", "in_1")])
        for m, layer in zip(MODULES, layers(model), strict=True)
    }
    return model, found


def layers(model):
    return [getattr(model.base_model.model, m) for m in MODULES]


def hand_sized():
    """Two adapters whose q_proj deltas are hand-sized rows (A = identity, scaling 1: the deltas are B)."""
    model, _ = two_adapters(rank=4)
    first = torch.tensor([[2.0, 1.0, -3.0, 0.1]] * 4)
    second = torch.tensor([[4.0, -2.0, -1.0, 0.1]] * 4)
    with torch.no_grad():
        for name, b in (("in_0", first), ("in_1", second)):
            layers(model)[0].lora_A[name].weight.copy_(torch.eye(4))
            layers(model)[0].lora_B[name].weight.copy_(b)
    return model


def merged_delta(model, module: str) -> torch.Tensor:
    return getattr(model.base_model.model, module).get_delta_weight("default").detach()


def merge(model, space: str, combination: str, weights=(0.5, 0.5), **settings) -> dict[str, float]:
    return merge_adapters(model, ["in_0", "in_1"], space, MergeSpec(combination, list(weights), **settings))


# The weights space: mergekit itself, on the full weights W0 + dW_i


@pytest.mark.parametrize(
    ("combination", "settings", "parameters", "with_base"),
    [
        ("linear", {"weights": (0.3, 0.9)}, {"weight": [0.3, 0.9]}, False),
        ("slerp", {"t": 0.3}, {"t": 0.3}, False),
        ("ties", {"weights": (1.0, 1.0), "density": 0.5}, {"weight": [1.0, 1.0], "density": 0.5}, True),
        ("dare_ties", {"weights": (1.0, 1.0), "density": 0.5, "seed": 4}, {"weight": [1.0, 1.0], "density": 0.5}, True),
        (
            "dare_linear",
            {"weights": (0.5, 1.0), "density": 0.7, "seed": 2},
            {"weight": [0.5, 1.0], "density": 0.7},
            True,
        ),
    ],
)
def test_the_weights_space_is_mergekits_merge_of_the_full_weights(combination, settings, parameters, with_base):
    model, found = two_adapters(rank=2, width=6)
    weights = settings.pop("weights", (0.5, 0.5))
    report = merge(model, "weights", combination, weights, **settings)
    torch.manual_seed(settings.get("seed", 0))  # mergekit draws DARE's drops module by module, as the merge did
    for module, (base, deltas) in found.items():
        models = [base.double() + d.double() for d in deltas]
        inputs, base_index = ([base.double(), *models], 0) if with_base else (models, None)
        base_index = 0 if combination == "slerp" else base_index  # SLERP's base_model is its first input
        expected = merge_tensors(inputs, combination, parameters=parameters, base_index=base_index)
        assert torch.allclose(base + merged_delta(model, module), expected.float(), atol=1e-5), module
    assert report["merge/kept_energy"] == pytest.approx(1.0, abs=1e-6)  # exact by default
    assert set(model.peft_config) == {"default"}  # the inputs are gone


def test_mergekits_documented_formulas_hold_on_hand_sized_tensors():
    """linear: sum w_i W_i / sum w_i; TIES: trim to density, elect the sign by mass, the weighted mean of the agreeing
    deltas (normalize: its default); DARE-TIES: the same on deltas dropped at 1 - density and rescaled so that each
    keeps its L1 norm (mergekit's `rescale`; the DARE paper's 1 / density in expectation), summed whole (normalize
    false by default)."""
    model = hand_sized()
    merge(model, "weights", "ties", (1.0, 1.0), density=0.75)
    row = merged_delta(model, "q_proj")[0]
    # density 0.75 trims each delta's smallest quarter (the 0.1s); per entry the sign with more mass wins and the
    # values of that sign are averaged: (2 + 4) / 2; -2 outweighs +1; (-3 - 1) / 2; trimmed: 0.
    assert torch.allclose(row, torch.tensor([3.0, -2.0, -2.0, 0.0]), atol=1e-4)

    model, found = two_adapters(rank=2)
    merge(model, "weights", "linear", (1.0, 3.0))
    base, (d0, d1) = found["v_proj"]
    assert torch.allclose(merged_delta(model, "v_proj"), (d0 + 3 * d1) / 4, atol=1e-5)

    model, found = two_adapters(rank=4)
    merge(model, "weights", "dare_ties", (1.0, 0.0), density=0.5, seed=3)
    (_, (d0, _)), merged = found["q_proj"], merged_delta(model, "q_proj")
    kept = merged.abs() > 1e-4
    assert 0 < kept.sum() < kept.numel()  # some dropped, some kept
    # survivors rescaled to the delta's L1 norm, and not averaged with the second input's (weight 0, nothing to add)
    assert torch.allclose(merged[kept], d0[kept] * d0.abs().sum() / d0[kept].abs().sum(), atol=1e-4)


def test_slerp_of_two_adapters_of_one_base_is_their_linear_average():
    """Full weights of one base whose deltas are small beside it are nearly parallel row by row: mergekit's SLERP then
    interpolates linearly, unlike a SLERP of the deltas themselves."""
    model, found = two_adapters(rank=2, width=8, scale=1e-3)
    merge(model, "weights", "slerp", t=0.5)
    for module, (_, (d0, d1)) in found.items():
        assert torch.allclose(merged_delta(model, module), (d0 + d1) / 2, atol=1e-7)


def test_linear_and_slerp_stay_low_rank_sparse_merges_go_full_rank():
    model, _ = two_adapters(rank=2, width=8)
    assert merge(model, "weights", "linear")["merge/rank_max"] <= 4  # the inputs' ranks added up
    model, _ = two_adapters(rank=2, width=8)
    assert merge(model, "weights", "dare_ties", (1.0, 1.0), density=0.5)["merge/rank_max"] == 8


def test_a_rank_cap_keeps_the_largest_directions_and_reports_the_energy_kept():
    model, found = two_adapters(rank=2, width=8)
    report = merge(model, "weights", "ties", (1.0, 1.0), density=0.5, svd_rank=2)
    assert report["merge/rank_max"] == 2
    exact, _ = two_adapters(rank=2, width=8)
    merge(exact, "weights", "ties", (1.0, 1.0), density=0.5)
    kept = total = 0.0
    for module in MODULES:
        full, capped = merged_delta(exact, module), merged_delta(model, module)
        singular = torch.linalg.svdvals(full).square()
        kept, total = kept + float(singular[:2].sum()), total + float(singular.sum())
        assert torch.linalg.matrix_rank(capped) == 2
        # the best rank-2 approximation: its error is the energy of the directions left out
        assert float((full - capped).square().sum()) == pytest.approx(float(singular[2:].sum()), rel=1e-3)
    assert 0 < report["merge/kept_energy"] < 1
    assert report["merge/kept_energy"] == pytest.approx(kept / total, rel=1e-4)


# The adapter space: PEFT's operators on the deltas


def test_adapter_space_linear_is_the_weighted_sum_of_the_deltas():
    model, found = two_adapters()
    merge(model, "adapter", "linear", (0.3, 0.7))
    for module, (_, (d0, d1)) in found.items():
        assert torch.allclose(merged_delta(model, module), 0.3 * d0 + 0.7 * d1, atol=1e-5)


def test_adapter_space_slerp_interpolates_each_delta_matrix_on_the_sphere():
    model, found = two_adapters()
    merge(model, "adapter", "slerp", t=0.3)
    for module, (_, (d0, d1)) in found.items():
        theta = math.acos(float((d0 * d1).sum() / (d0.norm() * d1.norm())))
        expected = (math.sin(0.7 * theta) * d0 + math.sin(0.3 * theta) * d1) / math.sin(theta)
        assert torch.allclose(merged_delta(model, module), expected, atol=1e-4)


def test_adapter_space_dare_drops_with_probability_one_minus_density_and_rescales_seeded():
    model, found = two_adapters(rank=4)
    # weight 0 on the second input isolates the first one's drops
    merge(model, "adapter", "dare_linear", (1.0, 0.0), density=0.5, seed=3)
    (_, (d0, _)), merged = found["q_proj"], merged_delta(model, "q_proj")
    kept = merged.abs() > 1e-4
    assert 0 < kept.sum() < kept.numel()
    assert torch.allclose(merged[kept], d0[kept] / 0.5, atol=1e-4)
    again, _ = two_adapters(rank=4)
    merge(again, "adapter", "dare_linear", (1.0, 0.0), density=0.5, seed=3)
    assert torch.allclose(merged_delta(again, "q_proj"), merged, atol=1e-5)  # the same seed, the same drops


def test_adapter_space_ties_is_the_disjoint_mean_of_the_weighted_deltas():
    model = hand_sized()
    merge(model, "adapter", "ties", (0.5, 0.5), density=0.75)
    # PEFT weighs before electing and averages the agreeing weighted values: half of the weights space's result
    row = merged_delta(model, "q_proj")[0]
    assert torch.allclose(row, torch.tensor([1.5, -1.0, -1.0, 0.0]), atol=1e-4)


def test_bad_merges_are_refused_naming_the_key():
    from alignbench.config.rules import ConfigError

    model, _ = two_adapters()
    with pytest.raises(ConfigError, match="method.merge.combination='mean'"):
        merge(model, "weights", "mean")
    with pytest.raises(ConfigError, match="'task_arithmetic' is not a merge of space 'adapter'"):
        merge(model, "adapter", "task_arithmetic")
    with pytest.raises(ConfigError, match="method.merge.space='mixed'"):
        merge(model, "mixed", "linear")
    with pytest.raises(ConfigError, match="method.merge.weights has 3 values for 2 inputs"):
        merge(model, "weights", "linear", (0.2, 0.3, 0.5))
    with pytest.raises(ValueError, match="two adapters"):
        merge_adapters(model, ["in_0"], "weights", MergeSpec("slerp", [1.0]))
