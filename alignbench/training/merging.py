"""Merging LoRA adapters of one base into one adapter: linear, TIES, DARE-linear, DARE-TIES and SLERP, all on the
adapters' weight deltas (the base is shared, never touched, and stays quantized under QLoRA).

- linear: sum_i w_i dW_i, exact, as PEFT's `cat` (rank = the inputs' ranks added up).
- ties, dare_linear, dare_ties: PEFT's definitions on the full deltas dW_i = B_i A_i * scaling_i (TIES: trim to
  `density` by magnitude, elect the sign by total mass, average the agreeing values; DARE: drop each value with
  probability 1 - density and rescale by 1/density, seeded). Trimmed or dropped deltas are no longer low-rank:
  they are brought back to LoRA form by SVD, at the inputs' summed rank unless `svd_rank` says otherwise (the
  best approximation of that rank; the full dimension is exact).
- slerp: spherical interpolation between two deltas, per weight matrix (as mergekit interpolates each tensor), with
  `t` the share of the second. Per matrix it is a linear combination with angle-dependent coefficients, so it is
  represented exactly, like `cat`. (mergekit's SLERP interpolates full weights; between two adapters of one base,
  whose deltas are small beside the base, that is close to linear, which is why the deltas are interpolated here.)
"""

from __future__ import annotations

import math
from collections.abc import Callable

from alignbench.config.registry import Registry

MERGED = "default"  # the merged adapter's name: PEFT saves the default adapter at the folder's top level


def _cat(model, names: list[str], weights: list[float], **_) -> None:
    model.add_weighted_adapter(names, weights, MERGED, combination_type="cat")


def _svd(kind: str) -> Callable[..., None]:
    def merge(
        model, names: list[str], weights: list[float], density: float, seed: int, svd_rank: int | None, **_
    ) -> None:
        import torch

        torch.manual_seed(seed)  # DARE's random drops
        rank = svd_rank or sum(model.peft_config[name].r for name in names)
        rank = min(rank, _smallest_dimension(model, names))  # beyond it the SVD is exact already
        model.add_weighted_adapter(
            names, weights, MERGED, combination_type=f"{kind}_svd", density=density, svd_rank=rank
        )

    return merge


def _smallest_dimension(model, names: list[str]) -> int:
    """The smallest side of any weight the inputs adapt (read from the layers, not from a computed delta: at 7B a
    delta per module is a full weight matrix)."""
    from peft.tuners.lora import LoraLayer

    return min(
        min(module.in_features, module.out_features)
        for module in model.modules()
        if isinstance(module, LoraLayer) and any(name in module.lora_A for name in names)
    )


def _slerp(model, names: list[str], weights: list[float], t: float, **_) -> None:
    import torch
    from peft.tuners.lora import LoraLayer

    if len(names) != 2:
        raise ValueError(f"slerp interpolates two adapters; got {len(names)}")
    first_rank = model.peft_config[names[0]].r
    coefficients = {}
    for key, module in model.named_modules():
        if isinstance(module, LoraLayer) and all(name in module.lora_A for name in names):
            deltas = [module.get_delta_weight(name).float() for name in names]
            coefficients[key] = slerp_coefficients(deltas[0], deltas[1], t)
    model.add_weighted_adapter(names, [1.0, 1.0], MERGED, combination_type="cat")
    with torch.no_grad():
        for key, module in model.named_modules():
            if key in coefficients:  # `cat` stacked [scaling_1 A_1; scaling_2 A_2]: weigh each block
                a, b = coefficients[key]
                module.lora_A[MERGED].weight[:first_rank] *= a
                module.lora_A[MERGED].weight[first_rank:] *= b


def slerp_coefficients(first, second, t: float) -> tuple[float, float]:
    """(a, b) with slerp(first, second, t) = a * first + b * second; linear where the two are (anti)parallel."""
    import torch

    cos = torch.nn.functional.cosine_similarity(first.flatten(), second.flatten(), dim=0).clamp(-1, 1).item()
    theta = math.acos(cos)
    if math.sin(theta) < 1e-6:
        return 1 - t, t
    return math.sin((1 - t) * theta) / math.sin(theta), math.sin(t * theta) / math.sin(theta)


COMBINATIONS: Registry[Callable[..., None]] = Registry(
    "method.merge.combination",
    {
        "linear": _cat,
        "ties": _svd("ties"),
        "dare_linear": _svd("dare_linear"),
        "dare_ties": _svd("dare_ties"),
        "slerp": _slerp,
    },
)


def merge_adapters(
    model,
    names: list[str],
    combination: str,
    weights: list[float],
    density: float = 1.0,
    t: float = 0.5,
    seed: int = 0,
    svd_rank: int | None = None,
) -> None:
    """Merge the named adapters of a PeftModel into its `default` adapter (the inputs are deleted afterwards)."""
    if MERGED in names:
        raise ValueError(f"an input adapter may not be named {MERGED!r}")
    COMBINATIONS.pick(combination)(model, names, list(weights), density=density, t=t, seed=seed, svd_rank=svd_rank)
    model.set_adapter(MERGED)
    for name in names:
        model.delete_adapter(name)
