"""Merging LoRA adapters of one base into one adapter, in one of two spaces (method.merge.space):

- weights (the default, the paper's operator): mergekit's merge method on the full weights of the adapted models,
  W_i = W0 + dW_i, exactly as `mergekit-yaml` merges models (its code, its parameters and defaults; for a QLoRA base
  W0 is the dequantized nf4 weight the adapters were trained on, so every task vector W_i - W0 is the adapter's delta
  exactly). Only the weights some input adapts are merged: elsewhere every input is the base, and so is the merge.
- adapter: PEFT's operators (peft.utils.merge_utils) on the adapters' deltas dW_i alone, as PEFT's
  add_weighted_adapter does; SLERP interpolates the two deltas per matrix. The older, LoRA-native choice.

In both, the merged model's difference from the base, per weight, is then written as a LoRA adapter by SVD: at its
numerical rank (exact to float precision) unless `svd_rank` caps it, which keeps the largest singular directions;
`merge/kept_energy` (the share of the squared Frobenius norm kept, over all weights) says what the cap cost. linear
and SLERP stay low-rank (a per-row combination of the inputs: at most their ranks added up); TIES and DARE do not
(trimming and random drops make a full-rank delta), so exact sparse merges are full-rank adapters: about 1.3x the
adapted weights' parameters in memory and a forward pass ~2x the base's. Merges are only ever evaluated, never
trained, so that is their cost; svd_rank trades it for the kept energy the record reports.

mergekit's SLERP between two adapted models of one base is a linear interpolation in practice: it interpolates
each output row, and falls back to linear where the rows' cosine exceeds 0.9995, which full weights whose deltas are
small beside the base always do (measured: a cosine of 0.9992 for the whole matrices of two 7B adapters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alignbench.config.registry import Registry

MERGED = "default"  # the merged adapter's name: PEFT saves the default adapter at the folder's top level


@dataclass(frozen=True)
class MergeSpec:
    """How to merge: the method.merge settings the operators read."""

    combination: str  # linear | slerp | ties | dare_ties | dare_linear | task_arithmetic (weights space)
    weights: list[float]  # one per input
    density: float = 1.0  # ties / dare: the share of each delta kept
    t: float = 0.5  # slerp: the share of the second input
    normalize: bool | None = None  # linear / ties / dare (weights space): None = mergekit's default for the method
    seed: int = 0  # dare: its random drops
    svd_rank: int | None = None  # cap on the merged adapter's rank per weight; None = exact


# An operator: (the LoRA layer, the inputs' deltas on it, spec) -> the merged weight's delta from the base weight.
Operator = Callable[[Any, list[Any], MergeSpec], Any]


def _mergekit(layer, deltas: list, spec: MergeSpec):
    """mergekit's method on the full weights, in float64 so that the task vectors survive the base's magnitude."""
    import torch
    from mergekit.merge_methods.api import merge_tensors

    base = _base_weight(layer).double()
    models = [base + delta.double() for delta in deltas]
    parameters: dict[str, Any] = {} if spec.normalize is None else {"normalize": spec.normalize}
    if spec.combination == "slerp":
        _two(deltas)  # mergekit's SLERP: the first input is its base_model, t the share of the second
        merged = merge_tensors(models, "slerp", parameters={"t": spec.t}, base_index=0)
    elif spec.combination == "linear":
        merged = merge_tensors(models, "linear", parameters={"weight": spec.weights, **parameters})
    else:  # task arithmetic, TIES, DARE: the base model is an input, the weights and densities the others'
        parameters |= {"weight": spec.weights, "density": spec.density}
        merged = merge_tensors([base, *models], spec.combination, parameters=parameters, base_index=0)
    return (merged - base).to(torch.float32)


def _peft(layer, deltas: list, spec: MergeSpec):
    """PEFT's operators on the deltas (add_weighted_adapter's, before its SVD): the base weight is not read."""
    import torch
    from peft.utils import merge_utils

    weights = torch.tensor(spec.weights, dtype=deltas[0].dtype, device=deltas[0].device)
    if spec.combination == "linear":
        return merge_utils.task_arithmetic(deltas, weights)
    if spec.combination == "slerp":
        a, b = slerp_coefficients(*_two(deltas), spec.t)
        return a * deltas[0] + b * deltas[1]
    operator = getattr(merge_utils, spec.combination)
    return operator(deltas, weights, spec.density)


def _two(deltas: list) -> list:
    if len(deltas) != 2:
        raise ValueError(f"slerp interpolates two adapters; got {len(deltas)}")
    return deltas


def slerp_coefficients(first, second, t: float) -> tuple[float, float]:
    """(a, b) with slerp(first, second, t) = a * first + b * second, the angle taken over the whole matrix; linear
    where the two are (anti)parallel."""
    import math

    import torch

    cos = torch.nn.functional.cosine_similarity(first.flatten(), second.flatten(), dim=0).clamp(-1, 1).item()
    theta = math.acos(cos)
    if math.sin(theta) < 1e-6:
        return 1 - t, t
    return math.sin((1 - t) * theta) / math.sin(theta), math.sin(t * theta) / math.sin(theta)


SPACES: Registry[Operator] = Registry("method.merge.space", {"weights": _mergekit, "adapter": _peft})
# Which combinations each space knows (mergekit's method names; PEFT's merge_utils functions).
COMBINATIONS = {
    "weights": ("linear", "slerp", "task_arithmetic", "ties", "dare_ties", "dare_linear"),
    "adapter": ("linear", "slerp", "ties", "dare_ties", "dare_linear"),
}


def merge_adapters(model, names: list[str], space: str, spec: MergeSpec) -> dict[str, float]:
    """Merge the named adapters of a PeftModel into its `default` adapter (the inputs are deleted afterwards).
    Returns merge/... metrics for the record: the largest rank written, the energy kept (1.0: exact)."""
    import torch

    from alignbench.config.rules import ConfigError

    operator = SPACES.pick(space)
    if spec.combination not in COMBINATIONS[space]:
        raise ConfigError(
            f"method.merge.combination={spec.combination!r} is not a merge of space {space!r}; "
            f"choose one of {', '.join(COMBINATIONS[space])}"
        )
    if MERGED in names:
        raise ValueError(f"an input adapter may not be named {MERGED!r}")
    if len(spec.weights) != len(names):
        raise ConfigError(f"method.merge.weights has {len(spec.weights)} values for {len(names)} inputs")
    torch.manual_seed(spec.seed)  # DARE's random drops, in the same module order every time
    factors, kept, total = {}, 0.0, 0.0
    with torch.no_grad():
        for key, module in _adapted(model, names):
            delta = operator(module, [_delta(module, name) for name in names], spec)
            b, a, energy = low_rank(delta, spec.svd_rank)
            factors[key] = (a, b)
            kept, total = kept + energy[0], total + energy[1]
        write_adapter(model, factors)
    model.set_adapter(MERGED)
    for name in names:
        model.delete_adapter(name)
    return {
        "merge/rank_max": max(a.shape[0] for a, _ in factors.values()),
        "merge/kept_energy": kept / total if total else 1.0,
        "merge/weights": len(factors),
    }


def _adapted(model, names: list[str]):
    """(key relative to the base model, LoRA layer) of every layer some input adapts."""
    from peft.tuners.lora import LoraLayer

    prefix = "base_model.model."
    for key, module in model.named_modules():
        if isinstance(module, LoraLayer) and any(name in module.lora_A for name in names):
            yield key.removeprefix(prefix), module


def _delta(module, name: str):
    """An input's delta on this weight; zero where that input does not adapt it (it is the base there)."""
    import torch

    if name in module.lora_A:
        return module.get_delta_weight(name).float()
    device = next(iter(module.lora_A.values())).weight.device
    return torch.zeros(module.out_features, module.in_features, device=device)


def _base_weight(module):
    """The base weight the adapters were trained on, in float: dequantized where the base is 4- or 8-bit."""
    from peft.utils.integrations import dequantize_module_weight

    return dequantize_module_weight(module.get_base_layer()).float()


def low_rank(delta, rank: int | None):
    """(B, A, (kept energy, total energy)) with B @ A the best approximation of `delta` at `rank` (None: its
    numerical rank, i.e. exact to float precision; singular values below max(shape) * eps of the largest are noise)."""
    import torch

    u, s, vh = torch.linalg.svd(delta.float(), full_matrices=False)
    energy = s.square()
    numerical = int((s > s[0] * max(delta.shape) * torch.finfo(torch.float32).eps).sum()) if s[0] > 0 else 0
    keep = max(1, numerical if rank is None else min(rank, numerical))  # PEFT needs r >= 1; a zero delta gets B = 0
    return u[:, :keep] * s[:keep], vh[:keep], (float(energy[:keep].sum()), float(energy.sum()))


def lora_config(factors: dict):
    """A LoRA config for per-weight factors {layer key: (A, B)}: one rank per layer, scaling 1 (alpha = r)."""
    import re

    from peft import LoraConfig

    ranks = {key: a.shape[0] for key, (a, _) in factors.items()}
    patterns = {re.escape(key): rank for key, rank in ranks.items()}  # PEFT reads these keys as regular expressions
    return LoraConfig(
        r=max(ranks.values()),
        lora_alpha=max(ranks.values()),
        rank_pattern=patterns,
        alpha_pattern=patterns,
        target_modules=sorted(ranks),
        lora_dropout=0.0,
        task_type="CAUSAL_LM",
    )


def write_adapter(model, factors: dict, name: str = MERGED) -> None:
    """Add adapter `name` to a PeftModel with the given factors {layer key: (A, B)} (B @ A is the layer's delta)."""
    import torch

    model.add_adapter(name, lora_config(factors))
    prefix = "base_model.model."
    with torch.no_grad():
        for key, module in model.named_modules():
            if (short := key.removeprefix(prefix)) in factors and hasattr(module, "lora_A") and name in module.lora_A:
                a, b = factors[short]
                module.lora_A[name].weight.copy_(a)
                module.lora_B[name].weight.copy_(b)


def save_adapter(folder, factors: dict) -> None:
    """The adapter of `factors` as PEFT saves one (adapter_config.json, adapter_model.safetensors), without a model."""
    from pathlib import Path

    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lora_config(factors).save_pretrained(str(folder))
    tensors = {}
    for key, (a, b) in factors.items():
        tensors[f"base_model.model.{key}.lora_A.weight"] = a.detach().contiguous().cpu()
        tensors[f"base_model.model.{key}.lora_B.weight"] = b.detach().contiguous().cpu()
    save_file(tensors, str(folder / "adapter_model.safetensors"))
