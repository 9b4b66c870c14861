"""SFT then DPO: DPO's trainer on a model that starts as the SFT stage's (base + its adapter), with the SFT model as
the reference, never the raw base. How DPO starts (method.start):

- merged (the default, the recipe the paper recommends): the SFT adapter is merged into the base in memory and DPO
  trains a fresh adapter of its own preset (r 16, alpha 32, all seven projections) on that SFT model. The merge is a
  fold (modeling.adapters.FoldedAdapter): forward hooks add the SFT delta to the layers' outputs, which is exactly
  the merged weight's output, without re-quantizing a 4-bit base or touching the shared resident base. TRL sees
  the folded model as the base, so its reference ("adapter off") is the SFT model. After training the two are
  written as one LoRA on the bare base (SFT's and DPO's factors side by side: rank r_sft + r_dpo where both adapt a
  layer), so the run evaluates, saves and reloads like every other run; so does each eval.at_steps adapter.
- continued (method=sft_dpo_continued): DPO goes on training the SFT adapter itself (its r 64, alpha 16, q/v).
  TRL 1.16, given a PeftModel that already carries an adapter and no peft_config, adds a frozen copy of it named
  "ref" and computes the reference log-probs with it active; after training the copy is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import cast

from alignbench.config.registry import Registry
from alignbench.config.schema import SFTDPOMethodConfig
from alignbench.training.methods.common import Trainer, TrainerInputs, method_settings
from alignbench.training.methods.dpo import build_dpo_trainer


def build_sft_dpo_trainer(inputs: TrainerInputs) -> Trainer:
    if inputs.start_adapter is None:
        raise ValueError(
            "method=sft_dpo trains from its SFT stage's adapter; none was given (TrainerInputs.start_adapter)"
        )
    return STARTS.pick(method_settings(inputs, SFTDPOMethodConfig).start)(inputs)


def _merged(inputs: TrainerInputs) -> Trainer:
    from alignbench.modeling.adapters import FoldedAdapter
    from alignbench.training.merging import save_adapter, write_adapter
    from alignbench.training.methods.cached import CachedDPOTrainer

    assert inputs.start_adapter is not None
    sft = FoldedAdapter(inputs.model, inputs.start_adapter)

    class MergedStartDPOTrainer(CachedDPOTrainer):
        def train(self, *args, **kwargs):
            try:
                result = super().train(*args, **kwargs)
                factors = chained_factors(sft, self.model)
            finally:
                sft.unfold()
            # The evaluated (and saved) adapter is SFT's and DPO's together, on the bare base; PEFT has no rename,
            # so it goes in under another name first, then as "default".
            write_adapter(self.model, factors, "chain")
            self.model.set_adapter("chain")
            self.model.delete_adapter("default")
            write_adapter(self.model, factors, "default")
            self.model.set_adapter("default")
            self.model.delete_adapter("chain")
            return result

        def save_adapter_at_step(self, model, folder: str) -> None:
            """An eval.at_steps adapter, written as the final one is: SFT's and DPO's factors together."""
            save_adapter(Path(folder), chained_factors(sft, model))

    try:
        return build_dpo_trainer(inputs, MergedStartDPOTrainer)
    except BaseException:
        sft.unfold()
        raise


def chained_factors(sft, policy) -> dict:
    """{layer key: (A, B)} of SFT's delta plus the trained DPO adapter's, scaling folded into A (B A = the sum)."""
    import torch
    from peft.tuners.lora import LoraLayer

    parts: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {}
    for key, (a, b) in sft.factors.items():
        parts.setdefault(key, []).append((a.float() * sft.scaling, b.float()))
    for key, module in policy.named_modules():
        if isinstance(module, LoraLayer) and "default" in module.lora_A:
            a, b = (cast(torch.nn.Linear, part["default"]).weight.detach() for part in (module.lora_A, module.lora_B))
            scaling = float(module.scaling["default"])
            parts.setdefault(key.removeprefix("base_model.model."), []).append((a.float() * scaling, b.float()))
    return {key: (torch.cat([a for a, _ in two]), torch.cat([b for _, b in two], dim=1)) for key, two in parts.items()}


def _continued(inputs: TrainerInputs) -> Trainer:
    from peft import PeftModel

    from alignbench.training.methods.cached import CachedDPOTrainer

    class ChainedDPOTrainer(CachedDPOTrainer):
        def train(self, *args, **kwargs):
            result = super().train(*args, **kwargs)
            # The reference has done its job: the saved, evaluated adapter is the policy alone.
            self.model.delete_adapter("ref")
            return result

    policy = PeftModel.from_pretrained(inputs.model, str(inputs.start_adapter), is_trainable=True)
    # peft_config=None: TRL takes the adapter in `policy` as the one to train and copies it as the reference.
    return build_dpo_trainer(replace(inputs, model=policy, peft_config=None), ChainedDPOTrainer)


STARTS: Registry[Callable[[TrainerInputs], Trainer]] = Registry(
    "method.start", {"merged": _merged, "continued": _continued}
)
