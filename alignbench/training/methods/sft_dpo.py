"""SFT then DPO: DPO's trainer on a model that starts as the SFT stage's (base + its adapter), with the SFT model as
the reference, never the raw base.

TRL 1.16 has no ref_adapter_name/model_adapter_name any more (DPOConfig raises on them); instead, given a PeftModel
that already carries an adapter and no peft_config, DPOTrainer adds a frozen copy of that adapter named "ref" and
computes the reference log-probs with it active (dpo_trainer.py: `add_adapter("ref", ...)`, `use_adapter(model,
"ref")` in compute_ref_log_probs, with or without precompute). So the SFT adapter is loaded once, trainable (the
policy starts at the SFT model), and TRL copies it as the reference. The result is one LoRA on the bare base,
evaluated like every other run; on QLoRA the 4-bit base is never dequantized or merged into: both adapters sit on
the same quantized weights, as the SFT stage's adapter did. Merging the SFT adapter into the base instead would
need the base in full precision (or a lossy re-quantization), and stacking a second adapter would make the result
two adapters that only evaluate together.
"""

from __future__ import annotations

from dataclasses import replace

from alignbench.training.methods.common import Trainer, TrainerInputs
from alignbench.training.methods.dpo import build_dpo_trainer


def build_sft_dpo_trainer(inputs: TrainerInputs) -> Trainer:
    from peft import PeftModel

    from alignbench.training.methods.cached import CachedDPOTrainer

    if inputs.start_adapter is None:
        raise ValueError(
            "method=sft_dpo trains from its SFT stage's adapter; none was given (TrainerInputs.start_adapter)"
        )

    class ChainedDPOTrainer(CachedDPOTrainer):
        def train(self, *args, **kwargs):
            result = super().train(*args, **kwargs)
            # The reference has done its job: the saved, evaluated adapter is the policy alone.
            self.model.delete_adapter("ref")
            return result

    policy = PeftModel.from_pretrained(inputs.model, str(inputs.start_adapter), is_trainable=True)
    # peft_config=None: TRL takes the adapter in `policy` as the one to train and copies it as the reference.
    return build_dpo_trainer(replace(inputs, model=policy, peft_config=None), ChainedDPOTrainer)
